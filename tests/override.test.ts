import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, eventually, get, metric, post } from './support/cluster.js';

interface Location {
  location: string;
  posRights: number;
  onlineRights: number;
  deficit: number;
  reservationsAtRisk: number;
}

const locationOf = async (hub: string, sku: string, store: string): Promise<Location | undefined> =>
  ((await get(hub, `/v1/skus/${sku}`)).body.locations as Location[] | undefined)?.find((l) => l.location === store);

const hubMetric = async (hub: string, name: string, labels: Record<string, string> = {}): Promise<number | undefined> =>
  metric(await (await fetch(`${hub}/metrics`)).text(), name, labels);

const MANAGER_TOKEN = 'manager-token-0123456789';
const manager = { 'x-manager-token': MANAGER_TOKEN };

/**
 * The override's real edges: the manager token, keys and problems at the
 * store's sale route, the stores' and the hub's flags and metrics. What the
 * override does across the chain (the cap the hub sets, deficits covered and
 * settled, reservations at risk) runs in one process:
 * packages/point-of-sale/test/override-chain.test.ts.
 */
describe('manager override with real processes', () => {
  // An online floor of 8: of 10 units received, the POS keeps 2, so a cut-off store runs out at the till with units in the escrow.
  const cluster = new Cluster({
    hubFlags: ['--override-cap', '3', '--escrow-online-floor', '8'],
  });
  const auth = { authorization: `Bearer ${cluster.apiToken}` };
  beforeAll(async () => {
    await cluster.startHub();
    await cluster.startStore('north', {
      flags: ['--override-cap', '3', '--manager-token-file', cluster.secretFileOf('manager-tokens', MANAGER_TOKEN)],
    });
    await cluster.startStore('south');
  }, 60_000);
  afterAll(() => cluster.stop(), 30_000);

  it('offline, a store sells in-hand units beyond its rights up to its cap, with the manager token; on reconnect the hub covers what its escrow can and flags the reservations at risk', async () => {
    const hub = cluster.hub?.url ?? '';
    const north = cluster.store('north');
    const south = cluster.store('south');
    expect((await post(north, '/v1/receipts', { sku: 'KETTLE', quantity: 10 }, 'kettle-in')).status).toBe(201);
    await eventually(() => locationOf(hub, 'KETTLE', 'north'), { posRights: 2, onlineRights: 8, deficit: 0 });
    const reservation = await post(
      hub,
      '/v1/reservations',
      { sku: 'KETTLE', quantity: 7, storeId: 'north' },
      'kettle-r',
      auth,
    );
    expect(reservation.status).toBe(201);
    expect(reservation.body).toMatchObject({ state: 'held', atRisk: false });
    const reservationId = String(reservation.body.id);
    await eventually(async () => (await get(north, '/v1/skus/KETTLE')).body, { rights: 2, pendingSync: false });
    await eventually(async () => (await get(south, '/readyz')).status, 200);

    await cluster.stopHub();
    await eventually(async () => (await get(north, '/v1/status')).body, { hub: { connected: false } });
    expect((await post(north, '/v1/sales', { sku: 'KETTLE', quantity: 2 }, 'k-1')).status).toBe(201);
    // Without the override: refused at once, as always.
    const plain = await post(north, '/v1/sales', { sku: 'KETTLE', quantity: 1 }, 'k-2');
    expect(plain.body).toMatchObject({ code: 'INSUFFICIENT_RIGHTS', details: { hubReachable: false } });
    // The override is the manager's: without their token it is refused, and nothing is recorded.
    const anonymous = await post(north, '/v1/sales', { sku: 'KETTLE', quantity: 3, override: true }, 'k-3-anon');
    expect(anonymous.status).toBe(401);
    const forged = await post(north, '/v1/sales', { sku: 'KETTLE', quantity: 3, override: true }, 'k-3-forged', {
      'x-manager-token': 'not-the-manager-token',
    });
    expect(forged.status).toBe(401);
    // With it: sold, and owed.
    const override = await post(north, '/v1/sales', { sku: 'KETTLE', quantity: 3, override: true }, 'k-3', manager);
    expect(override.status).toBe(201);
    expect(override.body).toMatchObject({ operation: 'sell', rights: -3, overridden: 3, deficit: 3, onShelf: 5 });
    // A retry with the same key answers the same and sells nothing more.
    const retried = await post(north, '/v1/sales', { sku: 'KETTLE', quantity: 3, override: true }, 'k-3', manager);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    expect(retried.body).toEqual(override.body);
    // Past the cap: refused, nothing recorded.
    const capped = await post(north, '/v1/sales', { sku: 'KETTLE', quantity: 1, override: true }, 'k-4', manager);
    expect(capped.status).toBe(409);
    expect(capped.body).toMatchObject({
      code: 'OVERRIDE_CAP_EXCEEDED',
      details: { cap: 3, outstanding: 3, requested: 1, hubReachable: false },
    });
    expect((await get(north, '/v1/skus/KETTLE')).body).toMatchObject({ rights: -3, deficit: 3 });
    // A store without --override-cap has the override off.
    const off = await post(south, '/v1/sales', { sku: 'KETTLE', quantity: 1, override: true }, 's-1');
    expect(off.status).toBe(409);
    expect(off.body).toMatchObject({ code: 'OVERRIDE_CAP_EXCEEDED', details: { cap: 0 } });
    const storeMetrics = await (await fetch(`${north}/metrics`)).text();
    expect(metric(storeMetrics, 'shelfsync_override_units_total')).toBe(3);
    expect(metric(storeMetrics, 'shelfsync_sales_total', { outcome: 'override' })).toBe(1);
    expect(metric(storeMetrics, 'shelfsync_sales_total', { outcome: 'refused_override_cap' })).toBe(1);

    // Reconnected: the one unreserved online unit covers one; two stay owed, and the newest reservation is flagged.
    await cluster.startHub();
    const healed = cluster.hub?.url ?? '';
    await eventually(() => locationOf(healed, 'KETTLE', 'north'), {
      posRights: -2,
      onlineRights: 0,
      deficit: 2,
      reservationsAtRisk: 2,
    });
    expect((await get(healed, `/v1/reservations/${reservationId}`, auth)).body).toMatchObject({
      state: 'held',
      atRisk: true,
    });
    expect(await hubMetric(healed, 'shelfsync_override_deficit_outstanding_units')).toBe(2);
    expect(await hubMetric(healed, 'shelfsync_reservations_at_risk_units')).toBe(2);
    await eventually(async () => (await get(north, '/v1/skus/KETTLE')).body, { rights: -2, deficit: 2 });
    // 1 unit covered from the escrow on reconnect, counted as such.
    expect(await hubMetric(healed, 'shelfsync_override_deficit_settled_units_total', { how: 'covered' })).toBe(1);
  }, 90_000);
});
