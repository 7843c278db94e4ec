import { ErrorCode, SkuSchema, type Problem } from '@shelfsync/protocol';
import { SHARE_PROTOCOL } from '@shelfsync/sync';
import { describe, expect, it } from 'vitest';
import { InProcessChain } from '../src/testing/index.js';

const BIKE1 = SkuSchema.parse('BIKE-1');
const BIKE2 = SkuSchema.parse('BIKE-2');
const KAYAK = SkuSchema.parse('KAYAK-1');

/** The answer's body as a refusal, for its code and details. */
const problem = (answer: { body: unknown }): Problem => answer.body as Problem;

describe('the escrow allocator, hub and store in one process', () => {
  it('a received shelf stays at the till but for the online floor; an order asks the store to release; a sale beyond the till is topped up', async () => {
    const chain = await InProcessChain.open();
    const north = chain.store('north');
    expect((await north.receive(BIKE1, 100)).status).toBe(201);
    await chain.settle();
    // No online orders yet: the escrow keeps its floor (1), the till the rest (policy v2).
    expect(await chain.location(BIKE1, 'north')).toMatchObject({ posRights: 99, onlineRights: 1 });
    expect(await north.stock(BIKE1)).toMatchObject({ rights: 99, onShelf: 100 });

    // An order for pickup at north the escrow cannot cover: the hub asks north to release what it lacks, and waits.
    const order = await chain.reserve({ sku: BIKE1, quantity: 5, storeId: north.id });
    expect(order).toMatchObject({ ok: true, value: { location: 'north', quantity: 5, state: 'held' } });
    expect(chain.allocatorEvents.filter((e) => e.type === 'release-asked').length).toBeGreaterThanOrEqual(1);
    expect(north.record.releases.length).toBeGreaterThanOrEqual(1);
    // Settled: the location's 95 unpromised units are split between the till and the escrow, as both sides see.
    await chain.settle();
    expect(await north.stock(BIKE1)).toMatchObject({ pendingSync: false, available: 95 });
    const at = await chain.location(BIKE1, 'north');
    const quota = (await north.stock(BIKE1)).rights;
    expect((at?.posRights ?? 0) + (at?.onlineRights ?? 0)).toBe(95);
    expect(at?.posRights).toBe(quota);
    expect(quota).toBeLessThan(95);

    // A sale one unit beyond the till's rights: the store asks, the hub grants from the escrow, the sale goes through.
    const sale = await north.sell(BIKE1, quota + 1);
    expect(sale.status).toBe(201);
    expect(sale.body).toMatchObject({ available: 94 - quota });
    expect(sale.topUpMs).toBeGreaterThanOrEqual(0);
    await chain.settle();
    expect((await chain.hubStock(BIKE1)).value).toBe(94 - quota);
    // The wait is reported and counted, at the store and at the hub.
    expect(north.record.outcomes).toEqual(['topped_up']);
    expect(north.record.topUpWaits).toHaveLength(1);
    const grants = chain.allocatorEvents.filter((e) => e.type === 'grant' && e.reason === 'topup');
    expect(grants).toHaveLength(1);
    expect(chain.storeLinks().find((l) => l.storeId === north.id)).toMatchObject({ connected: true });

    // More than the shelf holds: refused as an empty location (no escrow matter), and the hub counts it so.
    const empty = await north.sell(BIKE1, 500);
    expect(problem(empty)).toMatchObject({
      code: ErrorCode.InsufficientRights,
      details: { cause: 'location_empty' },
    });
    await chain.settle();
    expect(chain.refusalReports().map((r) => r.cause)).toEqual(['location_empty']);
    expect(chain.hubEvents.filter((e) => e.type === 'refusal-report-dropped')).toEqual([]);
    expect(chain.errors).toEqual([]);
    chain.close();
  });

  it('cut off from the hub, a store sells exactly its till’s rights and no more, refused at once; nothing is oversold after', async () => {
    // North holds its share (protocol 7): what it reports of the chain comes from the hub's summary.
    const chain = await InProcessChain.open({ protocol: SHARE_PROTOCOL });
    const north = chain.store('north');
    // A SKU with online orders at north: its escrow keeps them over the horizon, the till the rest.
    expect((await north.receive(BIKE2, 40)).status).toBe(201);
    await chain.settle();
    expect(await chain.location(BIKE2, 'north')).toMatchObject({ posRights: 39, onlineRights: 1 });
    expect((await chain.reserve({ sku: BIKE2, quantity: 3, storeId: north.id })).ok).toBe(true);
    // Settled: the till and the hub agree, and the escrow holds more than its floor.
    await chain.settle();
    const store = await north.stock(BIKE2);
    const at = await chain.location(BIKE2, 'north');
    expect(store.pendingSync).toBe(false);
    expect(at?.posRights).toBe(store.rights);
    const quota = store.rights;
    const escrowed = at?.onlineRights ?? 0;
    expect(escrowed).toBeGreaterThan(1);
    expect(quota + escrowed).toBe(37);

    chain.stopHub();
    await chain.settle();
    expect(north.status().connected).toBe(false);
    for (let i = 0; i < quota; i++) expect((await north.sell(BIKE2, 1)).status).toBe(201);
    const refused = await north.sell(BIKE2, 1);
    expect(refused.status).toBe(409);
    expect(problem(refused)).toMatchObject({
      code: ErrorCode.InsufficientRights,
      // The shelf has the units; they sit in the online escrow, and the hub that could release them is away.
      details: { rights: 0, requested: 1, hubReachable: false, cause: 'hub_unreachable' },
    });

    // Healed: the books balance, and the escrowed units were never touched by the store.
    await chain.startHub();
    await chain.converged([BIKE2]);
    expect((await chain.hubStock(BIKE2)).value).toBe(escrowed);
    const after = await chain.location(BIKE2, 'north');
    expect((after?.posRights ?? 0) + (after?.onlineRights ?? 0)).toBe(escrowed);
    // The restarted hub never saw that refusal happen: the store reports it once back, and the chain had the units.
    expect(chain.refusalReports()).toMatchObject([
      { sku: BIKE2, storeId: 'north', quantity: 1, cause: 'hub_unreachable' },
    ]);
    // North holds its share and had no figure of the rest of the chain (its console never showed
    // BIKE2), so its report carries none; the hub reads the chain's units from its own document.
    expect(chain.refusalReports()[0]?.chainAvailable).toBeNull();
    expect((await chain.hubStock(BIKE2)).value).toBeGreaterThanOrEqual(1);
    chain.close();
  });

  it('partitioned, the store sells exactly its quota while online customers reserve exactly the escrow; healed, nothing is oversold or lost', async () => {
    const chain = await InProcessChain.open({ stores: ['north', 'south'] });
    const south = chain.store('south');
    expect((await south.receive(KAYAK, 30)).status).toBe(201);
    expect((await south.sell(KAYAK, 3)).status).toBe(201);
    await chain.settle();
    expect(await south.stock(KAYAK)).toMatchObject({ pendingSync: false, onShelf: 27 });
    expect((await chain.hubStock(KAYAK)).value).toBe(27);
    // The till's rights as the store holds them and the escrow as the hub holds it.
    const split = async () => ({
      quota: (await south.stock(KAYAK)).rights,
      escrowed: (await chain.location(KAYAK, 'south'))?.onlineRights ?? 0,
    });
    const settled = await split();
    expect(settled.quota + settled.escrowed).toBe(27);
    expect(settled.escrowed).toBeGreaterThan(0);

    chain.disconnect('south');
    await chain.settle();
    expect(south.status().connected).toBe(false);
    const { quota, escrowed } = await split();
    // Never more promised than the shelf (a release cut off on its way counts on neither side yet).
    expect(quota + escrowed).toBeLessThanOrEqual(27);
    const unreachable = () => chain.refusalReports().filter((r) => r.cause === 'hub_unreachable').length;
    const refusedBefore = unreachable();
    // Both sides at once, each one past what it holds.
    const [sales, reservations] = await Promise.all([
      (async () => {
        const answers = [];
        for (let i = 0; i <= quota; i++) answers.push(await south.sell(KAYAK, 1));
        return answers;
      })(),
      (async () => {
        const results = [];
        for (let i = 0; i <= escrowed; i++)
          results.push(await chain.reserve({ sku: KAYAK, quantity: 1, storeId: south.id }));
        return results;
      })(),
    ]);
    expect(sales.filter((s) => s.status === 201)).toHaveLength(quota);
    expect(sales.at(-1)?.status).toBe(409);
    // The shelf has the units, in the online escrow, with the hub out of reach.
    expect(problem(sales.at(-1) ?? { body: {} })).toMatchObject({
      details: { hubReachable: false, cause: 'hub_unreachable' },
    });
    expect(reservations.filter((r) => r.ok)).toHaveLength(escrowed);
    expect(reservations.at(-1)).toMatchObject({ ok: false, error: { code: ErrorCode.InsufficientStock } });
    // The hub cannot know yet.
    await chain.settle();
    expect(unreachable()).toBe(refusedBefore);

    chain.connect('south');
    await chain.converged([KAYAK]);
    // Healed: the store reports the refusal it made while cut off, and the hub counts it under its cause.
    expect(unreachable()).toBe(refusedBefore + 1);
    // Every unit is accounted for exactly once, and no store update was refused.
    expect((await chain.hubStock(KAYAK)).value).toBe(0);
    expect(await chain.location(KAYAK, 'south')).toMatchObject({ posRights: 0, onlineRights: 0 });
    expect(await south.stock(KAYAK)).toMatchObject({ onShelf: escrowed, available: 0, pendingSync: false });
    expect(chain.storeLinks().find((l) => l.storeId === south.id)?.rejectedUpdates).toBe(0);
    chain.close();
  });

  it('a hub restarted with the escrow off moves no rights after an order it serves', async () => {
    const chain = await InProcessChain.open({ allocator: { onlineFloor: 10, releaseWaitMs: 0 } });
    expect((await chain.store('north').receive(KAYAK, 12)).status).toBe(201);
    await chain.settle();
    expect(await chain.location(KAYAK, 'north')).toMatchObject({ posRights: 2, onlineRights: 10 });

    // With the allocator on and a floor of 1, this escrow is far above its band: an order would rebalance it.
    await chain.restartHub({ escrow: 'off', allocator: { onlineFloor: 1 } });
    const order = await chain.reserve({ sku: KAYAK, quantity: 1, storeId: chain.store('north').id });
    expect(order).toMatchObject({ ok: true, value: { location: 'north', state: 'held' } });
    await chain.settle();
    expect(await chain.location(KAYAK, 'north')).toMatchObject({ posRights: 2, onlineRights: 9 });
    expect(chain.allocatorEvents.filter((e) => e.type === 'grant')).toEqual([]);
    expect(chain.errors).toEqual([]);
    chain.close();
  });
});
