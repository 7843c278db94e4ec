import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster, eventually, get, post } from './support/cluster.js';

describe('a fresh replica writes only after its first sync', () => {
  const cluster = new Cluster();
  afterAll(() => cluster.stop(), 30_000);

  it('with the hub unreachable, a new store refuses writes with 503 REPLICA_NOT_READY; once synced it takes them, also offline', async () => {
    // Learn a free port for the hub, then take the hub away.
    await cluster.startHub();
    await cluster.stopHub();

    const store = await cluster.startStore('west', { flags: ['--first-sync-wait-ms', '300'] });
    const refused = await post(store.url, '/v1/receipts', { sku: 'LAMP-1', quantity: 5 }, 'lamp-in');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.body).toMatchObject({ code: 'REPLICA_NOT_READY', status: 503 });
    expect((await get(store.url, '/readyz')).status).toBe(503);
    expect((await get(store.url, '/v1/status')).body).toMatchObject({ ready: false, firstSyncDone: false });

    await cluster.startHub();
    await eventually(async () => (await get(store.url, '/readyz')).status, 200);
    // The refused request was not recorded: the same key now applies it, once.
    const accepted = await post(store.url, '/v1/receipts', { sku: 'LAMP-1', quantity: 5 }, 'lamp-in');
    expect(accepted.status).toBe(201);
    expect(accepted.headers.get('idempotent-replayed')).toBeNull();

    // Synced once, the replica sells from its rights with the hub gone, across a restart.
    await cluster.stopHub();
    await cluster.stores.get('west')?.stop();
    const again = await cluster.startStore('west');
    const sale = await post(again.url, '/v1/sales', { sku: 'LAMP-1', quantity: 2 }, 'lamp-sale');
    expect(sale.status).toBe(201);
    expect(sale.body).toMatchObject({ rights: 3 });
  }, 60_000);

  it('a store whose data directory is lost rebuilds from the hub and writes on top of its old entry, refused by nobody', async () => {
    await cluster.startHub();
    const hub = cluster.hub?.url ?? '';
    const east = await cluster.startStore('east');
    expect((await post(east.url, '/v1/receipts', { sku: 'CHAIR-1', quantity: 10 }, 'c-in')).status).toBe(201);
    expect((await post(east.url, '/v1/sales', { sku: 'CHAIR-1', quantity: 3 }, 'c-sale')).status).toBe(201);
    await eventually(async () => (await get(hub, '/v1/skus/CHAIR-1')).body, { available: 7 });

    await cluster.stores.get('east')?.stop();
    rmSync(cluster.dataDir('east'), { recursive: true, force: true });
    const rebuilt = await cluster.startStore('east');

    // Its first write, an increment it could make on an empty document, waits for
    // the first sync and then builds on the totals the hub holds (made on an empty
    // document, the hub would refuse it: UPDATE_CONCURRENT_ENTRY).
    const receipt = await post(rebuilt.url, '/v1/receipts', { sku: 'CHAIR-1', quantity: 1 }, 'c-in-2');
    expect(receipt.status).toBe(201);
    expect(receipt.body).toMatchObject({ rights: 8, onShelf: 8 });
    const sale = await post(rebuilt.url, '/v1/sales', { sku: 'CHAIR-1', quantity: 2 }, 'c-sale-2');
    expect(sale.body).toMatchObject({ rights: 6, onShelf: 6 });
    await eventually(async () => (await get(hub, '/v1/skus/CHAIR-1')).body, { available: 6 });
    // The hub's acknowledgement reaches the store just after the hub shows the sale.
    await eventually(async () => (await get(rebuilt.url, '/v1/status')).body, {
      ready: true,
      firstSyncDone: true,
      pendingSync: 0,
      rejected: [],
    });
  }, 60_000);
});
