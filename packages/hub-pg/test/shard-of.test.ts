import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planRound, shardOf } from '../src/index.js';

describe('shardOf', () => {
  it('is FNV-1a over UTF-8: known values never change', () => {
    // FNV-1a 32 of "" is the offset basis; of "a" the published test vector.
    expect(shardOf('', 2 ** 32)).toBe(0x811c9dc5);
    expect(shardOf('a', 2 ** 32)).toBe(0xe40c292c);
    expect(shardOf('foobar', 2 ** 32)).toBe(0xbf9cf968);
    expect(shardOf('SKU-000123', 64)).toBe(shardOf('SKU-000123', 64));
  });

  it('is stable and in range for any SKU and count', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.integer({ min: 1, max: 10_000 }), (sku, shards) => {
        const shard = shardOf(sku, shards);
        expect(Number.isInteger(shard) && shard >= 0 && shard < shards).toBe(true);
        expect(shardOf(sku, shards)).toBe(shard);
      }),
    );
  });

  it('spreads SKUs roughly evenly over the shards', () => {
    const shards = 64;
    const counts = new Array<number>(shards).fill(0);
    const skus = 64_000;
    for (let i = 0; i < skus; i++) counts[shardOf(`SKU-${i}`, shards)]! += 1;
    const expected = skus / shards;
    for (const count of counts) expect(Math.abs(count - expected)).toBeLessThan(expected * 0.15);
  });

  it('refuses a shard count that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => shardOf('a', bad)).toThrow(RangeError);
  });
});

describe('planRound', () => {
  const owned = (entries: Record<string, number>): Map<string, number> => new Map(Object.entries(entries));

  it('takes up to the fair share, and gives up only what alive nodes below theirs lack', () => {
    expect(planRound({ me: 'a', shards: 64, alive: ['a'], owned: owned({}) })).toEqual({
      fair: 64,
      take: 64,
      release: 0,
    });
    expect(planRound({ me: 'a', shards: 64, alive: ['a', 'b'], owned: owned({ a: 64 }) })).toEqual({
      fair: 32,
      take: 0,
      release: 32,
    });
    // b is at its share already: a keeps its one above.
    expect(planRound({ me: 'a', shards: 64, alive: ['a', 'b', 'c'], owned: owned({ a: 23, b: 22, c: 19 }) })).toEqual({
      fair: 22,
      take: 0,
      release: 1,
    });
    expect(planRound({ me: 'a', shards: 64, alive: ['a', 'b', 'c'], owned: owned({ a: 22, b: 22, c: 20 }) })).toEqual({
      fair: 22,
      take: 0,
      release: 0,
    });
  });

  it('counts itself alive even before its heartbeat shows', () => {
    expect(planRound({ me: 'b', shards: 10, alive: ['a'], owned: owned({ a: 10 }) })).toEqual({
      fair: 5,
      take: 5,
      release: 0,
    });
  });

  it('never plans both ways, and a split at most fair everywhere is stable', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 256 }), fc.integer({ min: 1, max: 8 }), (shards, count) => {
        const nodes = Array.from({ length: count }, (_, i) => `n${i}`);
        const fair = Math.ceil(shards / count);
        // Deal the shards round-robin: every node ends at most fair.
        const dealt = new Map(
          nodes.map((node, i) => [node, Math.floor(shards / count) + (i < shards % count ? 1 : 0)]),
        );
        for (const me of nodes) {
          const plan = planRound({ me, shards, alive: nodes, owned: dealt });
          expect(plan.fair).toBe(fair);
          expect(plan.release).toBe(0);
          expect(plan.take).toBe(fair - (dealt.get(me) ?? 0));
        }
      }),
    );
  });
});
