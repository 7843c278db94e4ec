import { compareKeys, hasPrefix, type StorageKey } from '@shelfsync/storage';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeKey, encodeKey, prefixRange } from '../src/index.js';

// Few characters, with the edges of the allowed range, so keys often share
// segments, prefix one another and differ right next to a segment boundary.
const segment = fc.string({ unit: fc.constantFrom('!', '-', '/', 'A', 'a', 'b', '~'), minLength: 1, maxLength: 3 });
const key = fc.array(segment, { minLength: 1, maxLength: 4 });
const sign = (n: number): number => Math.sign(n);

describe('key encoding', () => {
  it('joins printable segments with 0x00', () => {
    expect([...encodeKey(['ab', 'c'])]).toEqual([0x61, 0x62, 0x00, 0x63]);
    expect(decodeKey(encodeKey(['doc', 'SKU-1', 'snapshot']))).toEqual(['doc', 'SKU-1', 'snapshot']);
  });

  it('refuses what is no key, both ways', () => {
    for (const bad of [[], [''], ['a b'], ['é'], ['a', '']] as StorageKey[]) expect(() => encodeKey(bad)).toThrow();
    for (const bad of [[], [0x00], [0x61, 0x00], [0x61, 0x00, 0x00, 0x62], [0x20], [0xff]]) {
      expect(() => decodeKey(Uint8Array.from(bad))).toThrow(TypeError);
    }
  });

  it('orders encodings (byte order, shorter first: bytea) exactly as compareKeys orders keys', () => {
    fc.assert(
      fc.property(key, key, (a, b) => {
        expect(sign(Buffer.compare(encodeKey(a), encodeKey(b)))).toBe(sign(compareKeys(a, b)));
      }),
      { numRuns: 5000 },
    );
  });

  it('puts exactly the keys under a prefix in [low, high)', () => {
    fc.assert(
      fc.property(key, key, (k, p) => {
        const { low, high } = prefixRange(p);
        const encoded = encodeKey(k);
        const inside = Buffer.compare(encoded, low) >= 0 && Buffer.compare(encoded, high) < 0;
        expect(inside).toBe(hasPrefix(k, p));
      }),
      { numRuns: 5000 },
    );
    const { low, high } = prefixRange(['a']);
    const inside = (k: StorageKey): boolean => {
      const e = encodeKey(k);
      return Buffer.compare(e, low) >= 0 && Buffer.compare(e, high) < 0;
    };
    expect([['a'], ['a', '!'], ['a', '~', '~']].every(inside)).toBe(true);
    expect([['!'], ['a!'], ['ab'], ['b']].some(inside)).toBe(false);
  });

  it('round-trips every key', () => {
    fc.assert(
      fc.property(key, (k) => {
        expect(decodeKey(encodeKey(k))).toEqual(k);
      }),
    );
  });
});
