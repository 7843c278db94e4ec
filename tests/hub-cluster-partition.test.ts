import { TcpProxy } from '@shelfsync/cli';
import { skipPgTests, startPostgresServer, type PostgresServer } from '@shelfsync/storage-pg/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, eventually, get, post } from './support/cluster.js';

/**
 * Two hub nodes on one real PostgreSQL server, node `p` reaching it through a
 * fault proxy. Cut from its database, `p` can acknowledge nothing: it says so,
 * and its store moves to the node that can.
 */
describe.skipIf(skipPgTests())('a hub node cut off from its database', () => {
  let server: PostgresServer;
  let proxy: TcpProxy;
  let cluster: Cluster;
  beforeAll(async () => {
    server = await startPostgresServer();
    proxy = await TcpProxy.start(server.port);
    cluster = new Cluster({ escrow: 'off' });
    await cluster.startHubNode('p', ['--database', server.url.replace(`:${server.port}/`, `:${proxy.port}/`)]);
    await cluster.startHubNode('q', ['--database', server.url]);
  }, 90_000);
  afterAll(async () => {
    await cluster?.stop();
    await proxy?.close();
    await server?.stop();
  }, 30_000);

  it('closes its store sessions and turns new ones away, so its stores move to a node that can acknowledge', async () => {
    const nodes = cluster.hubNodeList(['p', 'q']).split(',');
    await cluster.startStore('north', { hubUrl: nodes.join(',') });
    const store = cluster.store('north');
    await eventually(() => get(store, '/v1/status').then((r) => r.body), {
      hub: { node: nodes[0], connected: true, caughtUp: true },
    });
    expect((await post(store, '/v1/receipts', { sku: 'CUT-1', quantity: 9 }, 'cut-in')).status).toBe(201);
    await eventually(() => get(cluster.hubNode('q'), '/v1/skus/CUT-1').then((r) => r.body), { available: 9 });

    proxy.partition();
    // Its leases lapse (within a lease's time); it says so, and the store moves to q.
    await eventually(() => get(cluster.hubNode('p'), '/readyz').then((r) => ({ status: r.status })), { status: 503 });
    await eventually(
      () => get(store, '/v1/status').then((r) => r.body),
      { hub: { node: nodes[1], connected: true } },
      20_000,
    );
    expect((await post(store, '/v1/sales', { sku: 'CUT-1', quantity: 2 }, 'cut-sale')).status).toBe(201);
    await eventually(() => get(cluster.hubNode('q'), '/v1/skus/CUT-1').then((r) => r.body), { available: 7 });

    // Back on its database, p takes leases again and reads what q committed meanwhile.
    proxy.restore();
    await eventually(
      () => get(cluster.hubNode('p'), '/readyz').then((r) => ({ status: r.status })),
      { status: 200 },
      20_000,
    );
    await eventually(() => get(cluster.hubNode('p'), '/v1/skus/CUT-1').then((r) => r.body), { available: 7 }, 20_000);
  }, 120_000);
});
