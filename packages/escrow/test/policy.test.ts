import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AllocatorConfigSchema,
  NO_VELOCITY,
  allocate,
  defaultAllocatorConfig,
  onlineBand,
  pooledRate,
  releaseForOrder,
  shelfTargets,
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
const demandArb = fc.record({ pos: velocityArb, online: velocityArb });
const configArb = fc
  .record({
    horizonMs: fc.integer({ min: 60_000, max: 24 * HOUR }),
    minQuota: fc.nat(20),
    onlineFloor: fc.nat(20),
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

describe('allocation policy v2', () => {
  it('conserves the shelf, moves only rights the giver holds, and lands inside the band', () => {
    fc.assert(
      fc.property(shelfArb, demandArb, configArb, (shelf, demand, config) => {
        const decision = allocate(shelf, demand, config);
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
        const band = onlineBand(after, demand, config);
        expect(after.onlineRights).toBeLessThanOrEqual(band.high);
        // Below the low watermark only when the POS has nothing left to release.
        if (after.onlineRights < band.low) expect(after.posRights).toBe(0);
      }),
      { numRuns: runs(2000) },
    );
  });

  it('does not oscillate: once applied, the same velocities give hold', () => {
    fc.assert(
      fc.property(shelfArb, demandArb, configArb, (shelf, demand, config) => {
        const after = apply(shelf, allocate(shelf, demand, config));
        expect(allocate(after, demand, config)).toEqual({ type: 'hold' });
      }),
      { numRuns: runs(2000) },
    );
  });

  it('the targets split the shelf; the POS target is monotone: up with its own velocity, down with the online one', () => {
    fc.assert(
      fc.property(shelfArb, demandArb, velocityArb, velocityArb, configArb, (shelf, demand, a, b, config) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        const total = shelf.posRights + shelf.onlineRights;
        const targets = shelfTargets(shelf, demand, config);
        expect(targets.pos + targets.online).toBe(total);
        expect(Math.min(targets.pos, targets.online)).toBeGreaterThanOrEqual(0);
        const pos = (d: { pos: number; online: number }): number => shelfTargets(shelf, d, config).pos;
        expect(pos({ ...demand, pos: low })).toBeLessThanOrEqual(pos({ ...demand, pos: high }));
        expect(pos({ ...demand, online: low })).toBeGreaterThanOrEqual(pos({ ...demand, online: high }));
      }),
      { numRuns: runs(2000) },
    );
  });

  it('a location with no online demand keeps (nearly) all of its shelf at the POS', () => {
    fc.assert(
      fc.property(shelfArb, velocityArb, configArb, (shelf, pos, config) => {
        const demand = { pos, online: 0 };
        const after = apply(shelf, allocate(shelf, demand, config));
        const total = shelf.posRights + shelf.onlineRights;
        // The escrow keeps at most its floor's band: everything else is the till's.
        const kept = Math.max(config.onlineFloor, Math.floor(config.onlineFloor * config.highWatermark));
        expect(after.posRights).toBeGreaterThanOrEqual(total - kept);
      }),
      { numRuns: runs(2000) },
    );
  });

  it('a top-up covers the sale whenever the location’s online rights can, and never gives more than they hold', () => {
    fc.assert(
      fc.property(shelfArb, fc.integer({ min: 1, max: 20_000 }), demandArb, configArb, (shelf, n, demand, config) => {
        const topUp = topUpForSale(shelf, n, demand, config);
        if (shelf.posRights + shelf.onlineRights < n) {
          expect(topUp).toEqual({ type: 'insufficient', available: shelf.posRights + shelf.onlineRights });
          return;
        }
        expect(topUp.type).toBe('grant');
        if (topUp.type !== 'grant') return;
        expect(topUp.quantity).toBeLessThanOrEqual(shelf.onlineRights);
        expect(shelf.posRights + topUp.quantity).toBeGreaterThanOrEqual(n);
        // What it leaves online is at least the escrow's target after the sale, unless the sale needed it.
        const after = shelf.onlineRights - topUp.quantity;
        if (after < shelfTargets({ posRights: 0, onlineRights: after }, demand, config).online) {
          expect(topUp.quantity).toBe(n - shelf.posRights);
        }
      }),
      { numRuns: runs(2000) },
    );
  });

  it('an online order asks for what the escrow lacks, never more than the POS holds', () => {
    fc.assert(
      fc.property(shelfArb, fc.integer({ min: 1, max: 20_000 }), (shelf, n) => {
        const release = releaseForOrder(shelf, n);
        if (shelf.posRights + shelf.onlineRights < n) expect(release).toBeNull();
        else expect(release).toBe(Math.max(0, n - shelf.onlineRights));
      }),
      { numRuns: runs(1000) },
    );
  });

  it('worked examples: a 100-unit shelf, horizon 4 h, floor 1, minimum 2', () => {
    const config = defaultAllocatorConfig;
    const none = { pos: 0, online: 0 };
    // A first receipt of 100 at the till: the escrow takes its floor, the till keeps 99.
    expect(shelfTargets({ posRights: 100, onlineRights: 0 }, none, config)).toEqual({ pos: 99, online: 1 });
    expect(allocate({ posRights: 100, onlineRights: 0 }, none, config)).toEqual({ type: 'release', quantity: 1 });
    expect(allocate({ posRights: 99, onlineRights: 1 }, none, config)).toEqual({ type: 'hold' });
    // Online orders at 3 an hour: the escrow keeps 3 × 4 + 1 = 13.
    const online = { pos: 12 / HOUR, online: 3 / HOUR };
    expect(onlineBand({ posRights: 99, onlineRights: 1 }, online, config)).toEqual({ target: 13, low: 6.5, high: 26 });
    expect(allocate({ posRights: 99, onlineRights: 1 }, online, config)).toEqual({ type: 'release', quantity: 12 });
    expect(allocate({ posRights: 80, onlineRights: 10 }, online, config)).toEqual({ type: 'hold' });
    // Online demand fell away: the surplus goes back to the till.
    expect(allocate({ posRights: 50, onlineRights: 50 }, none, config)).toEqual({ type: 'grant', quantity: 49 });
    // A scarce shelf (10 units; needs 48 at the till, 13 online) is split in proportion: 2 online, 8 at the till.
    expect(shelfTargets({ posRights: 10, onlineRights: 0 }, online, config)).toEqual({ pos: 8, online: 2 });
    // A sale of 5 with 2 held and 90 escrowed: 3 for the sale, then the POS is refilled, the escrow left at 13.
    expect(topUpForSale({ posRights: 2, onlineRights: 90 }, 5, online, config)).toEqual({
      type: 'grant',
      quantity: 77,
    });
  });

  it('refuses a bad configuration, naming the field', () => {
    const result = AllocatorConfigSchema.safeParse({ lowWatermark: 0, horizonMs: 5, onlineFloor: -1 });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.')).sort()).toEqual([
      'horizonMs',
      'lowWatermark',
      'onlineFloor',
    ]);
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

  it('each escrow follows its online demand over rounds; a location without online orders keeps its shelf at the till', () => {
    const config = defaultAllocatorConfig;
    const round = 10 * 60_000; // the allocator runs every 10 minutes
    // Units per round at the till and online: 60/h and 6/h; 60/h and none.
    const flows = [
      { till: 10, online: 1 },
      { till: 10, online: 0 },
    ];
    const pos: Velocity[] = flows.map(() => NO_VELOCITY);
    const online: Velocity[] = flows.map(() => NO_VELOCITY);
    const shelves: ShelfRights[] = flows.map(() => ({ posRights: 2000, onlineRights: 0 }));
    // Six hours: 36 rounds, six half-lives of the estimate.
    for (let r = 1, t = round; r <= 36; r++, t += round) {
      flows.forEach((flow, i) => {
        pos[i] = recordSale(pos[i] ?? NO_VELOCITY, flow.till, t, config.halfLifeMs);
        if (flow.online > 0) online[i] = recordSale(online[i] ?? NO_VELOCITY, flow.online, t, config.halfLifeMs);
        const shelf = shelves[i] ?? { posRights: 0, onlineRights: 0 };
        // Both channels commit their units; the till is topped up from the escrow when it runs short.
        const short = Math.max(0, flow.till - shelf.posRights);
        const after = {
          posRights: shelf.posRights + short - flow.till,
          onlineRights: shelf.onlineRights - short - flow.online,
        };
        const demand = {
          pos: velocityAt(pos[i] ?? NO_VELOCITY, t, config.halfLifeMs),
          online: velocityAt(online[i] ?? NO_VELOCITY, t, config.halfLifeMs),
        };
        shelves[i] = apply(after, allocate(after, demand, config));
      });
    }
    const [ordering, tillOnly] = shelves;
    // 6 an hour over 4 hours, plus the floor: about 25, held inside its band.
    expect(ordering?.onlineRights).toBeGreaterThanOrEqual(12);
    expect(ordering?.onlineRights).toBeLessThanOrEqual(50);
    expect(tillOnly?.onlineRights).toBeLessThanOrEqual(2);
    expect(tillOnly?.posRights).toBe(2000 - 360 - (tillOnly?.onlineRights ?? 0));
  });

  it('a pooled online rate lies between the location’s own and the chain’s per location, and is each at 0 and 1', () => {
    fc.assert(
      fc.property(
        velocityArb,
        velocityArb,
        fc.integer({ min: 1, max: 1_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (local, chain, locations, pooling) => {
          const spread = chain / locations;
          const rate = pooledRate(local, chain, locations, pooling);
          expect(rate).toBeGreaterThanOrEqual(Math.min(local, spread) - 1e-18);
          expect(rate).toBeLessThanOrEqual(Math.max(local, spread) + 1e-18);
          expect(pooledRate(local, chain, locations, 0)).toBe(local);
          expect(pooledRate(local, chain, locations, 1)).toBeCloseTo(spread, 18);
        },
      ),
      { numRuns: runs(1000) },
    );
    // No location carries the SKU: nothing to spread.
    expect(pooledRate(0.5, 3, 0, 0.5)).toBe(0.25);
  });

  it('pooling steadies a sparse location: one order spikes its own estimate, the pooled one moves a tenth as far', () => {
    const config = defaultAllocatorConfig;
    // Ten locations, one order of 2 units at one of them, read right after.
    const local = recordSale(NO_VELOCITY, 2, HOUR, config.halfLifeMs);
    const alone = velocityAt(local, HOUR, config.halfLifeMs);
    const pooled = pooledRate(alone, alone, 10, config.onlinePooling);
    const target = (online: number): number =>
      shelfTargets({ posRights: 12, onlineRights: 0 }, { pos: 0, online }, config).online;
    // Alone: 2 units over a 1 h half-life is 1.39 an hour, 5.5 over the 4 h horizon: 6 + the floor.
    expect(target(alone)).toBe(7);
    // Pooled (half its own, half the chain's tenth): 3.1 over the horizon: 4 + the floor.
    expect(target(pooled)).toBe(5);
    // Another location with no order of its own still expects a share of the chain's orders.
    expect(target(pooledRate(0, alone, 10, config.onlinePooling))).toBe(2);
  });
});
