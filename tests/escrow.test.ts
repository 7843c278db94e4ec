import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, eventually, get, metric, post } from './support/cluster.js';

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

/**
 * The escrow's real edges, once: a store's sale route with its top-up timing,
 * the hub's reservation route asking a store process to release, the metrics
 * and the chain summary. The allocator's behaviour itself (the split, releases,
 * top-ups, a store cut off or partitioned, refusal reports) runs in one process:
 * packages/point-of-sale/test/escrow-chain.test.ts.
 */
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
});
