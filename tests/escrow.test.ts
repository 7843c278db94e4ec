import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Cluster, eventually, get, metric, post } from './support/cluster.js';
import { TcpProxy } from '@shelfsync/cli';

interface Location {
  location: string;
  posRights: number;
  onlineRights: number;
}

/** Sales refused chain-wide over the summary's 30 minutes, by cause, as the hub counts the stores' reports. */
const refusedAt = async (hub: string): Promise<Record<string, number>> => {
  const minutes = (await get(hub, '/v1/summary')).body.minutes as { refused: Record<string, number> }[];
  const totals: Record<string, number> = {};
  for (const m of minutes) for (const [cause, n] of Object.entries(m.refused)) totals[cause] = (totals[cause] ?? 0) + n;
  return totals;
};

const locationOf = async (hub: string, sku: string, store: string): Promise<Location | undefined> =>
  ((await get(hub, `/v1/skus/${sku}`)).body.locations as Location[] | undefined)?.find((l) => l.location === store);

describe('escrow allocator with real processes', () => {
  const cluster = new Cluster();
  beforeAll(async () => {
    await cluster.startHub();
    await cluster.startStore('north');
  }, 60_000);
  afterAll(() => cluster.stop(), 30_000);

  it('a received shelf stays at the till but for the online floor; an order asks the store to release; a sale beyond the till is topped up', async () => {
    const hub = cluster.hub?.url ?? '';
    const north = cluster.store('north');
    expect((await post(north, '/v1/receipts', { sku: 'BIKE-1', quantity: 100 }, 'bike-in')).status).toBe(201);
    // No online orders yet: the escrow keeps its floor (1), the till the rest (policy v2).
    await eventually(() => locationOf(hub, 'BIKE-1', 'north'), { posRights: 99, onlineRights: 1 });
    await eventually(async () => (await get(north, '/v1/skus/BIKE-1')).body, { rights: 99, onShelf: 100 });

    // An order for pickup at north the escrow cannot cover: the hub asks north to release what it lacks, and waits.
    const auth = { authorization: `Bearer ${cluster.apiToken}` };
    const order = await post(hub, '/v1/reservations', { sku: 'BIKE-1', quantity: 5, storeId: 'north' }, 'bike-r', auth);
    expect(order.status).toBe(201);
    expect(order.body).toMatchObject({ location: 'north', quantity: 5, state: 'held' });
    // Settled: the location's 95 unpromised units are split between the till and the escrow, as both sides see.
    await eventually(async () => (await get(north, '/v1/skus/BIKE-1')).body, { pendingSync: false, available: 95 });
    const settled = async () => {
      const at = await locationOf(hub, 'BIKE-1', 'north');
      const store = (await get(north, '/v1/skus/BIKE-1')).body;
      return { split: (at?.posRights ?? 0) + (at?.onlineRights ?? 0), same: at?.posRights === store.rights };
    };
    await eventually(settled, { split: 95, same: true });
    const quota = Number((await get(north, '/v1/skus/BIKE-1')).body.rights);
    expect(quota).toBeLessThan(95);

    // A sale one unit beyond the till's rights: the store asks, the hub grants from the escrow, the sale goes through.
    const sale = await post(north, '/v1/sales', { sku: 'BIKE-1', quantity: quota + 1 }, 'bike-sale');
    expect(sale.status).toBe(201);
    expect(sale.body).toMatchObject({ available: 94 - quota });
    await eventually(async () => (await get(hub, '/v1/skus/BIKE-1')).body, { available: 94 - quota });
    // The wait is reported (Server-Timing) and counted, at the store and at the hub.
    expect(sale.headers.get('server-timing')).toMatch(/^topup;dur=\d+(\.\d)?$/);
    const storeMetrics = await (await fetch(`${north}/metrics`)).text();
    expect(metric(storeMetrics, 'shelfsync_sales_total', { outcome: 'topped_up', store: 'north' })).toBe(1);
    expect(metric(storeMetrics, 'shelfsync_topup_duration_seconds_count')).toBe(1);
    expect(metric(storeMetrics, 'shelfsync_journal_fsync_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(metric(storeMetrics, 'shelfsync_sync_lag_seconds_count')).toBeGreaterThanOrEqual(1);
    const hubMetrics = await (await fetch(`${hub}/metrics`)).text();
    expect(metric(hubMetrics, 'shelfsync_escrow_grants_total', { reason: 'topup' })).toBe(1);
    expect(metric(hubMetrics, 'shelfsync_escrow_release_requests_total')).toBeGreaterThanOrEqual(1);
    expect(metric(hubMetrics, 'shelfsync_store_outbound_buffered_bytes', { store: 'north' })).toBe(0);
    expect(metric(hubMetrics, 'shelfsync_connected_stores')).toBe(1);
    const reads = { method: 'GET', route: '/v1/skus/:sku', status: '200' };
    expect(metric(hubMetrics, 'shelfsync_http_request_duration_seconds_count', reads)).toBeGreaterThanOrEqual(1);

    // More than the shelf holds: refused as an empty location (no escrow matter), and the hub counts it so.
    const empty = await post(north, '/v1/sales', { sku: 'BIKE-1', quantity: 500 }, 'bike-too-many');
    expect(empty.body).toMatchObject({ code: 'INSUFFICIENT_RIGHTS', details: { cause: 'location_empty' } });
    await eventually(() => refusedAt(hub), { locationEmpty: 1, escrowHeld: 0, hubUnreachable: 0, topUpTimeout: 0 });
    const reported = await (await fetch(`${hub}/metrics`)).text();
    expect(metric(reported, 'shelfsync_store_refusals_reported_total', { cause: 'location_empty' })).toBe(1);
    expect(metric(reported, 'shelfsync_store_refusal_reports_dropped_total')).toBe(0);
  }, 60_000);

  it('cut off from the hub, a store sells exactly its till’s rights and no more, refused at once; nothing is oversold after', async () => {
    const hub = cluster.hub?.url ?? '';
    const north = cluster.store('north');
    // A SKU with online orders at north: its escrow keeps them over the horizon, the till the rest.
    expect((await post(north, '/v1/receipts', { sku: 'BIKE-2', quantity: 40 }, 'bike2-in')).status).toBe(201);
    await eventually(() => locationOf(hub, 'BIKE-2', 'north'), { posRights: 39, onlineRights: 1 });
    const auth = { authorization: `Bearer ${cluster.apiToken}` };
    const order = { sku: 'BIKE-2', quantity: 3, storeId: 'north' };
    expect((await post(hub, '/v1/reservations', order, 'bike2-r', auth)).status).toBe(201);
    // Settled: the till and the hub agree, and the escrow holds more than its floor.
    const split = async () => {
      const at = await locationOf(hub, 'BIKE-2', 'north');
      const store = (await get(north, '/v1/skus/BIKE-2')).body;
      return {
        same: store.pendingSync === false && at?.posRights === store.rights,
        escrowed: (at?.onlineRights ?? 0) > 1,
      };
    };
    await eventually(split, { same: true, escrowed: true });
    const quota = Number((await get(north, '/v1/skus/BIKE-2')).body.rights);
    const escrowed = (await locationOf(hub, 'BIKE-2', 'north'))?.onlineRights ?? 0;
    expect(quota + escrowed).toBe(37);

    await cluster.stopHub();
    await eventually(async () => (await get(north, '/v1/status')).body, { hub: { connected: false } });
    for (let i = 0; i < quota; i++) {
      expect((await post(north, '/v1/sales', { sku: 'BIKE-2', quantity: 1 }, `bike-off-${i}`)).status).toBe(201);
    }
    const refused = await post(north, '/v1/sales', { sku: 'BIKE-2', quantity: 1 }, 'bike-off-refused');
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      code: 'INSUFFICIENT_RIGHTS',
      // The shelf has the units; they sit in the online escrow, and the hub that could release them is away.
      details: { rights: 0, requested: 1, hubReachable: false, cause: 'hub_unreachable' },
    });

    // Healed: the books balance, and the escrowed units were never touched by the store.
    await cluster.startHub();
    const healed = cluster.hub?.url ?? '';
    await eventually(async () => (await get(healed, '/v1/skus/BIKE-2')).body, { available: escrowed });
    const after = await locationOf(healed, 'BIKE-2', 'north');
    expect((after?.posRights ?? 0) + (after?.onlineRights ?? 0)).toBe(escrowed);
    // The restarted hub never saw that refusal happen: the store reports it once back, and the chain had the units.
    await eventually(() => refusedAt(healed), { hubUnreachable: 1 });
    await eventually(async () => (await get(healed, '/v1/summary')).body, {
      refusedWithChainStock: [{ sku: 'BIKE-2', storeId: 'north', requested: 1, cause: 'hub_unreachable' }],
    });
  }, 60_000);

  it('partitioned, the store sells exactly its quota while online customers reserve exactly the escrow; healed, nothing is oversold or lost', async () => {
    const hub = cluster.hub?.url ?? '';
    const proxy = await TcpProxy.start(cluster.hubPort);
    try {
      const south = (await cluster.startStore('south', { hubPort: proxy.port })).url;
      expect((await post(south, '/v1/receipts', { sku: 'KAYAK-1', quantity: 30 }, 'kayak-in')).status).toBe(201);
      expect((await post(south, '/v1/sales', { sku: 'KAYAK-1', quantity: 3 }, 'kayak-sale')).status).toBe(201);
      await eventually(async () => (await get(south, '/v1/skus/KAYAK-1')).body, { pendingSync: false, onShelf: 27 });
      await eventually(async () => (await get(hub, '/v1/skus/KAYAK-1')).body, { available: 27 });
      // The till's rights as the store holds them and the escrow as the hub holds it: read until the
      // two views agree (a release the allocator asked for may be on its way), and again once cut off.
      const split = async () => ({
        quota: Number((await get(south, '/v1/skus/KAYAK-1')).body.rights),
        escrowed: (await locationOf(hub, 'KAYAK-1', 'south'))?.onlineRights ?? 0,
      });
      await vi.waitFor(
        async () => {
          const { quota, escrowed } = await split();
          expect(quota + escrowed).toBe(27);
          expect(escrowed).toBeGreaterThan(0);
        },
        { timeout: 15_000, interval: 50 },
      );

      proxy.partition();
      await eventually(async () => (await get(south, '/v1/status')).body, { hub: { connected: false } });
      const { quota, escrowed } = await split();
      // Never more promised than the shelf (a release cut off on its way counts on neither side yet).
      expect(quota + escrowed).toBeLessThanOrEqual(27);
      const auth = { authorization: `Bearer ${cluster.apiToken}` };
      const reserveOne = (i: number) =>
        post(hub, '/v1/reservations', { sku: 'KAYAK-1', quantity: 1, storeId: 'south' }, `kayak-r-${i}`, auth);
      const sellOne = (i: number) => post(south, '/v1/sales', { sku: 'KAYAK-1', quantity: 1 }, `kayak-off-${i}`);
      const refusedBefore = (await refusedAt(hub)).hubUnreachable ?? 0;
      // Both sides at once, each one past what it holds.
      let lastSale: Record<string, unknown> = {};
      const [sales, reservations] = await Promise.all([
        (async () => {
          const statuses: number[] = [];
          for (let i = 0; i <= quota; i++) {
            const sale = await sellOne(i);
            statuses.push(sale.status);
            lastSale = sale.body;
          }
          return statuses;
        })(),
        (async () => {
          const statuses: number[] = [];
          for (let i = 0; i <= escrowed; i++) statuses.push((await reserveOne(i)).status);
          return statuses;
        })(),
      ]);
      expect(sales.filter((s) => s === 201)).toHaveLength(quota);
      expect(sales.at(-1)).toBe(409);
      // The shelf has the units, in the online escrow, with the hub out of reach.
      expect(lastSale).toMatchObject({ details: { hubReachable: false, cause: 'hub_unreachable' } });
      expect(reservations.filter((s) => s === 201)).toHaveLength(escrowed);
      expect(reservations.at(-1)).toBe(409);
      // The hub cannot know yet.
      expect((await refusedAt(hub)).hubUnreachable).toBe(refusedBefore);

      proxy.restore();
      // Healed: the store reports the refusal it made while cut off, and the hub counts it under its cause.
      await eventually(() => refusedAt(hub), { hubUnreachable: refusedBefore + 1 }, 30_000);
      // Healed: every unit is accounted for exactly once, and no store update was refused.
      await eventually(async () => (await get(hub, '/v1/skus/KAYAK-1')).body, { available: 0 }, 30_000);
      const after = await locationOf(hub, 'KAYAK-1', 'south');
      expect(after).toMatchObject({ posRights: 0, onlineRights: 0 });
      await eventually(async () => (await get(south, '/v1/skus/KAYAK-1')).body, {
        onShelf: escrowed,
        available: 0,
        pendingSync: false,
      });
      const stores = (await get(hub, '/v1/stores')).body.stores as { storeId: string; rejectedUpdates: number }[];
      expect(stores.find((s) => s.storeId === 'south')?.rejectedUpdates).toBe(0);
    } finally {
      await proxy.close();
    }
  }, 90_000);
});
