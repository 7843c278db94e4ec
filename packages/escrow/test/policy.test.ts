import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AllocatorConfigSchema,
  NO_VELOCITY,
  allocate,
  defaultAllocatorConfig,
  quotaBand,
  recordSale,
  topUpForSale,
  velocityAt,
  type AllocatorConfig,
  type ShelfRights,
  type Velocity,
} from '../src/index.js';

const HOUR = 3_600_000;
const runs = (base: number): number => Math.max(1, Math.round(base * Number(process.env.SHELFSYNC_FC_SCALE ?? '1')));

const shelfArb = fc.record({ posRights: fc.nat(10_000), onlineRights: fc.nat(10_000) });
/** Up to 100 units an hour. */
const velocityArb = fc.double({ min: 0, max: 100 / HOUR, noNaN: true });
const configArb = fc
  .record({
    horizonMs: fc.integer({ min: 60_000, max: 24 * HOUR }),
    minQuota: fc.nat(20),
    lowWatermark: fc.double({ min: 0.05, max: 1, noNaN: true }),
    highWatermark: fc.double({ min: 1, max: 5, noNaN: true }),
  })
  .map((c): AllocatorConfig => AllocatorConfigSchema.parse(c));

function apply(shelf: ShelfRights, decision: ReturnType<typeof allocate>): ShelfRights {
  if (decision.type === 'grant') {
    return { posRights: shelf.posRights + decision.quantity, onlineRights: shelf.onlineRights - decision.quantity };
  }
  if (decision.type === 'release') {
    return { posRights: shelf.posRights - decision.quantity, onlineRights: shelf.onlineRights + decision.quantity };
  }
  return shelf;
}

describe('allocation policy', () => {
  it('moves only rights the giver holds, conserves the shelf, and lands inside the band', () => {
    fc.assert(
      fc.property(shelfArb, velocityArb, configArb, (shelf, velocity, config) => {
        const decision = allocate(shelf, velocity, config);
        if (decision.type === 'grant') {
          expect(decision.quantity).toBeGreaterThan(0);
          expect(decision.quantity).toBeLessThanOrEqual(shelf.onlineRights);
        }
        if (decision.type === 'release') {
          expect(decision.quantity).toBeGreaterThan(0);
          expect(decision.quantity).toBeLessThanOrEqual(shelf.posRights);
        }
        const after = apply(shelf, decision);
        expect(after.posRights + after.onlineRights).toBe(shelf.posRights + shelf.onlineRights);
        expect(Math.min(after.posRights, after.onlineRights)).toBeGreaterThanOrEqual(0);
        const band = quotaBand(after, velocity, config);
        expect(after.posRights).toBeLessThanOrEqual(band.high);
        // Below the low watermark only when the online side has nothing left to give.
        if (after.posRights < band.low) expect(after.onlineRights).toBe(0);
      }),
      { numRuns: runs(2000) },
    );
  });

  it('does not oscillate: once applied, the same velocity gives hold', () => {
    fc.assert(
      fc.property(shelfArb, velocityArb, configArb, (shelf, velocity, config) => {
        const after = apply(shelf, allocate(shelf, velocity, config));
        expect(allocate(after, velocity, config)).toEqual({ type: 'hold' });
      }),
      { numRuns: runs(2000) },
    );
  });

  it('a faster store never gets a smaller target; the target never exceeds the shelf', () => {
    fc.assert(
      fc.property(shelfArb, velocityArb, velocityArb, configArb, (shelf, v1, v2, config) => {
        const [slow, fast] = v1 <= v2 ? [v1, v2] : [v2, v1];
        const a = quotaBand(shelf, slow, config).target;
        const b = quotaBand(shelf, fast, config).target;
        expect(a).toBeLessThanOrEqual(b);
        expect(b).toBeLessThanOrEqual(shelf.posRights + shelf.onlineRights);
      }),
      { numRuns: runs(2000) },
    );
  });

  it('a top-up covers the sale whenever the location’s online rights can, and never gives more than they hold', () => {
    fc.assert(
      fc.property(shelfArb, fc.integer({ min: 1, max: 20_000 }), velocityArb, configArb, (shelf, n, v, config) => {
        const topUp = topUpForSale(shelf, n, v, config);
        if (shelf.posRights + shelf.onlineRights < n) {
          expect(topUp).toEqual({ type: 'insufficient', available: shelf.posRights + shelf.onlineRights });
          return;
        }
        expect(topUp.type).toBe('grant');
        if (topUp.type !== 'grant') return;
        expect(topUp.quantity).toBeLessThanOrEqual(shelf.onlineRights);
        expect(shelf.posRights + topUp.quantity).toBeGreaterThanOrEqual(n);
      }),
      { numRuns: runs(2000) },
    );
  });

  it('worked example: 12 units an hour over a 4 h horizon targets 48 of a 100-unit shelf', () => {
    const velocity = 12 / HOUR;
    const config = defaultAllocatorConfig;
    expect(quotaBand({ posRights: 10, onlineRights: 90 }, velocity, config)).toEqual({ target: 48, low: 24, high: 96 });
    expect(allocate({ posRights: 10, onlineRights: 90 }, velocity, config)).toEqual({ type: 'grant', quantity: 38 });
    expect(allocate({ posRights: 30, onlineRights: 70 }, velocity, config)).toEqual({ type: 'hold' });
    expect(allocate({ posRights: 100, onlineRights: 0 }, velocity, config)).toEqual({ type: 'release', quantity: 52 });
    // A sale of 5 with 2 held: 3 to cover it, then 48 more so the POS is back at target.
    expect(topUpForSale({ posRights: 2, onlineRights: 98 }, 5, velocity, config)).toEqual({
      type: 'grant',
      quantity: 51,
    });
    // No history: the minimum quota.
    expect(allocate({ posRights: 0, onlineRights: 100 }, 0, config)).toEqual({ type: 'grant', quantity: 2 });
    expect(allocate({ posRights: 0, onlineRights: 100 }, 0, { ...config, minQuotaBySku: { RARE: 0 } }, 'RARE')).toEqual(
      { type: 'hold' },
    );
  });

  it('refuses a bad configuration, naming the field', () => {
    const result = AllocatorConfigSchema.safeParse({ lowWatermark: 0, horizonMs: 5 });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.')).sort()).toEqual(['horizonMs', 'lowWatermark']);
  });
});

describe('sales velocity (EWMA)', () => {
  it('converges to a steady rate and halves every half-life without sales', () => {
    const halfLife = HOUR;
    let v: Velocity = NO_VELOCITY;
    // One unit every 6 minutes (10 an hour), for 6 hours.
    for (let t = 6 * 60_000; t <= 6 * HOUR; t += 6 * 60_000) v = recordSale(v, 1, t, halfLife);
    const perHour = velocityAt(v, 6 * HOUR, halfLife) * HOUR;
    expect(perHour).toBeGreaterThan(9);
    expect(perHour).toBeLessThan(11.5);
    expect(velocityAt(v, 7 * HOUR, halfLife) * HOUR).toBeCloseTo(perHour / 2, 6);
  });

  it('a store selling 10x faster ends up holding about 10x the quota within a bounded number of rounds', () => {
    const config = { ...defaultAllocatorConfig, minQuota: 0 };
    const perRound = [10, 1, 1, 1]; // units sold per round, whole units
    const round = 10 * 60_000; // the allocator runs every 10 minutes
    const velocity: Velocity[] = perRound.map(() => NO_VELOCITY);
    const shelves: ShelfRights[] = perRound.map(() => ({ posRights: 5, onlineRights: 1995 }));
    // Six hours: 36 rounds, six half-lives of the estimate.
    for (let r = 1, t = round; r <= 36; r++, t += round) {
      perRound.forEach((sold, i) => {
        velocity[i] = recordSale(velocity[i] ?? NO_VELOCITY, sold, t, config.halfLifeMs);
        const shelf = shelves[i] ?? { posRights: 0, onlineRights: 0 };
        // The sales commit units from the POS, topped up from online when it runs short.
        const short = Math.max(0, sold - shelf.posRights);
        const afterSales = {
          posRights: shelf.posRights + short - sold,
          onlineRights: shelf.onlineRights - short,
        };
        const rate = velocityAt(velocity[i] ?? NO_VELOCITY, t, config.halfLifeMs);
        shelves[i] = apply(afterSales, allocate(afterSales, rate, config));
      });
    }
    const [fast, ...slow] = shelves.map((s) => s.posRights);
    for (const quota of slow) {
      expect(quota).toBeGreaterThan(0);
      const ratio = (fast ?? 0) / quota;
      expect(ratio).toBeGreaterThan(7);
      expect(ratio).toBeLessThan(14);
    }
  });
});
