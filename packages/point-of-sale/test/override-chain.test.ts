import { ErrorCode, SkuSchema, type Problem } from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import { InProcessChain } from '../src/testing/index.js';

const KETTLE = SkuSchema.parse('KETTLE');
const LAMP = SkuSchema.parse('LAMP-9');

const problem = (answer: { body: unknown }): Problem => answer.body as Problem;

describe('the manager override across the chain, in one process', () => {
  it('offline, a store sells in-hand units beyond its rights up to its cap; on reconnect the hub covers what its escrow can and flags the reservations at risk; units back online settle the rest', async () => {
    // An online floor of 8: of 10 units received, the POS keeps 2, so a cut-off store runs out at the till with units in the escrow.
    const chain = await InProcessChain.open({
      maxDeficit: 3,
      allocator: { onlineFloor: 8 },
      stores: [{ id: 'north', overrideCap: 3 }, 'south'],
    });
    const north = chain.store('north');
    const south = chain.store('south');
    expect((await north.receive(KETTLE, 10)).status).toBe(201);
    await chain.settle();
    expect(await chain.location(KETTLE, 'north')).toMatchObject({ posRights: 2, onlineRights: 8, deficit: 0 });
    const reservation = await chain.reserve({ sku: KETTLE, quantity: 7, storeId: north.id });
    expect(reservation).toMatchObject({ ok: true, value: { state: 'held', atRisk: false } });
    const reservationId = reservation.ok ? reservation.value.id : '';
    await chain.settle();
    expect(await north.stock(KETTLE)).toMatchObject({ rights: 2, pendingSync: false });
    expect(south.status().ready).toBe(true);

    chain.stopHub();
    await chain.settle();
    expect(north.status().connected).toBe(false);
    expect((await north.sell(KETTLE, 2)).status).toBe(201);
    // Without the override: refused at once, as always.
    const plain = await north.sell(KETTLE, 1);
    expect(problem(plain)).toMatchObject({ code: ErrorCode.InsufficientRights, details: { hubReachable: false } });
    // With it: sold, and owed.
    const override = await north.sell(KETTLE, 3, true);
    expect(override.status).toBe(201);
    expect(override.body).toMatchObject({ operation: 'sell', rights: -3, overridden: 3, deficit: 3, onShelf: 5 });
    // Past the cap: refused, nothing recorded.
    const capped = await north.sell(KETTLE, 1, true);
    expect(capped.status).toBe(409);
    expect(problem(capped)).toMatchObject({
      code: ErrorCode.OverrideCapExceeded,
      details: { cap: 3, outstanding: 3, requested: 1, hubReachable: false },
    });
    expect(await north.stock(KETTLE)).toMatchObject({ rights: -3, deficit: 3 });
    // A store without an override cap has the override off.
    const off = await south.sell(KETTLE, 1, true);
    expect(off.status).toBe(409);
    expect(problem(off)).toMatchObject({ code: ErrorCode.OverrideCapExceeded, details: { cap: 0 } });
    expect(north.record.overridden.map((o) => o.overridden)).toEqual([3]);
    expect(north.record.outcomes.filter((o) => o === 'override')).toHaveLength(1);
    expect(north.record.outcomes.filter((o) => o === 'refused_override_cap')).toHaveLength(1);

    // Reconnected: the one unreserved online unit covers one; two stay owed, and the newest reservation is flagged.
    await chain.startHub();
    await chain.converged([KETTLE]);
    expect(await chain.location(KETTLE, 'north')).toMatchObject({
      posRights: -2,
      onlineRights: 0,
      deficit: 2,
      reservationsAtRisk: 2,
    });
    expect(await chain.reservation(reservationId)).toMatchObject({ state: 'held', atRisk: true });
    expect(chain.deficits()).toMatchObject({ units: 2, reservationsAtRisk: 2 });
    expect(await north.stock(KETTLE)).toMatchObject({ rights: -2, deficit: 2 });

    // The customer cancels: the 7 units come back online, the hub covers the rest of the deficit from them.
    expect(await chain.cancel(reservationId)).toMatchObject({ ok: true, value: { state: 'cancelled' } });
    await chain.converged([KETTLE]);
    expect(await chain.location(KETTLE, 'north')).toMatchObject({ deficit: 0, reservationsAtRisk: 0 });
    const settled = await chain.location(KETTLE, 'north');
    expect((settled?.posRights ?? 0) + (settled?.onlineRights ?? 0)).toBe(5);
    expect((await chain.hubStock(KETTLE)).value).toBe(5);
    // The hub's cover reaches the store as a relayed write: the store's deficit is cleared.
    const store = await north.stock(KETTLE);
    expect(store).toMatchObject({ available: 5, pendingSync: false });
    expect(store.deficit).toBeUndefined();
    expect(chain.deficits().units).toBe(0);
    // 1 unit covered on reconnect, 2 once the cancelled units came back: all from the escrow.
    const covered = chain.allocatorEvents.reduce((sum, e) => sum + (e.type === 'deficit' ? e.granted : 0), 0);
    expect(covered).toBe(3);
    // Settled: the store may use its whole cap again.
    expect((await north.sell(KETTLE, 1)).status).toBe(201);
    expect(chain.errors).toEqual([]);
    chain.close();
  });

  it("a store configured above the hub's cap overrides only up to the hub's, which it learns in the handshake", async () => {
    const chain = await InProcessChain.open({ maxDeficit: 3, stores: [] });
    const east = await chain.addStore({ id: 'east', overrideCap: 5 });
    expect(east.status().ready).toBe(true);
    expect((await east.receive(LAMP, 1)).status).toBe(201);
    const past = await east.sell(LAMP, 5, true);
    expect(past.status).toBe(409);
    expect(problem(past)).toMatchObject({ code: ErrorCode.OverrideCapExceeded, details: { cap: 3 } });
    const within = await east.sell(LAMP, 4, true);
    expect(within.status).toBe(201);
    // And the hub takes it: nothing refused, the deficit visible there.
    await chain.converged([LAMP]);
    expect(await east.stock(LAMP)).toMatchObject({ pendingSync: false });
    expect(east.status()).toMatchObject({ connected: true, rejected: [] });
    expect(chain.storeLinks().find((l) => l.storeId === east.id)?.rejectedUpdates).toBe(0);
    expect(await chain.location(LAMP, 'east')).toMatchObject({ deficit: 3 });
    chain.close();
  });
});
