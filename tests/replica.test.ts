import { afterAll, describe, expect, it } from 'vitest';
import { Cluster, eventually, get, post } from './support/cluster.js';

/**
 * The replica gate's real edges: the 503 problem, /readyz and /v1/status, and a
 * refused request's key left unrecorded. Selling offline once synced (across a
 * restart) and rebuilding a lost replica from the hub run in one process:
 * packages/point-of-sale/test/replica-chain.test.ts.
 */
describe('a fresh replica writes only after its first sync', () => {
  const cluster = new Cluster();
  afterAll(() => cluster.stop(), 30_000);

  it('with the hub unreachable, a new store refuses writes with 503 REPLICA_NOT_READY, unrecorded; once synced it takes them', async () => {
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
  }, 60_000);
});
