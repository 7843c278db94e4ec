import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, eventually, get, post } from './support/cluster.js';

interface Location {
  location: string;
  posRights: number;
  onlineRights: number;
}

const locationOf = async (hub: string, sku: string, store: string): Promise<Location | undefined> =>
  ((await get(hub, `/v1/skus/${sku}`)).body.locations as Location[] | undefined)?.find((l) => l.location === store);

describe('escrow allocator with real processes', () => {
  const cluster = new Cluster();
  beforeAll(async () => {
    await cluster.startHub();
    await cluster.startStore('north');
  }, 60_000);
  afterAll(() => cluster.stop(), 30_000);

  it('a received shelf is split: the POS keeps its quota, the rest is escrowed online; a connected sale beyond it is topped up', async () => {
    const hub = cluster.hub?.url ?? '';
    const north = cluster.store('north');
    expect((await post(north, '/v1/receipts', { sku: 'BIKE-1', quantity: 100 }, 'bike-in')).status).toBe(201);
    // No sales yet: the target is the minimum quota (2); the store releases the rest.
    await eventually(() => locationOf(hub, 'BIKE-1', 'north'), { posRights: 2, onlineRights: 98 });
    await eventually(async () => (await get(north, '/v1/skus/BIKE-1')).body, { rights: 2, onShelf: 100 });

    // A sale of 5 with 2 held: the store asks, the hub grants from the online escrow, the sale goes through.
    const sale = await post(north, '/v1/sales', { sku: 'BIKE-1', quantity: 5 }, 'bike-sale');
    expect(sale.status).toBe(201);
    expect(sale.body).toMatchObject({ onShelf: 95, available: 95 });
    await eventually(async () => (await get(hub, '/v1/skus/BIKE-1')).body, { available: 95 });
  }, 60_000);

  it('cut off from the hub, a store sells exactly its quota and no more, refused at once; nothing is oversold after', async () => {
    const hub = cluster.hub?.url ?? '';
    const north = cluster.store('north');
    await eventually(async () => (await get(north, '/v1/skus/BIKE-1')).body, { pendingSync: false });
    const quota = Number((await get(north, '/v1/skus/BIKE-1')).body.rights);
    const escrowed = (await locationOf(hub, 'BIKE-1', 'north'))?.onlineRights ?? 0;
    expect(quota).toBeGreaterThan(0);
    expect(quota + escrowed).toBe(95);

    await cluster.stopHub();
    await eventually(async () => (await get(north, '/v1/status')).body, { hub: { connected: false } });
    for (let i = 0; i < quota; i++) {
      expect((await post(north, '/v1/sales', { sku: 'BIKE-1', quantity: 1 }, `bike-off-${i}`)).status).toBe(201);
    }
    const refused = await post(north, '/v1/sales', { sku: 'BIKE-1', quantity: 1 }, 'bike-off-refused');
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      code: 'INSUFFICIENT_RIGHTS',
      details: { rights: 0, requested: 1, hubReachable: false },
    });

    // Healed: the books balance, and the escrowed units were never touched by the store.
    await cluster.startHub();
    const healed = cluster.hub?.url ?? '';
    await eventually(async () => (await get(healed, '/v1/skus/BIKE-1')).body, { available: 95 - quota });
    const after = await locationOf(healed, 'BIKE-1', 'north');
    expect((after?.posRights ?? 0) + (after?.onlineRights ?? 0)).toBe(95 - quota);
  }, 60_000);
});
