import { TcpProxy } from '@shelfsync/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, eventually, get, metric, post } from './support/cluster.js';

/**
 * A connected store never refuses a sale its own shelf can fill: each store's
 * link to the hub goes through a TCP relay with a fixed delay each way (as a
 * WAN, a VPN concentrator or a proxy adds), and the store sells its whole shelf
 * one unit at a time. Every sale must go through. Once over real sockets, at the
 * delay where the refusals of ADR 0016 were first reproduced; every delay from 0
 * to 50 ms, and several tills at once, run in one process:
 * packages/point-of-sale/test/topup-latency.test.ts.
 */
describe('top-ups over links with latency', () => {
  const cluster = new Cluster();
  const proxies: TcpProxy[] = [];
  beforeAll(async () => {
    await cluster.startHub();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await cluster.stop();
  }, 30_000);

  /** A store whose hub link goes through a proxy delaying every chunk `latencyMs` each way. */
  const storeBehind = async (id: string, latencyMs: number): Promise<string> => {
    const proxy = await TcpProxy.start(cluster.hubPort);
    proxies.push(proxy);
    proxy.degrade({ latencyMs });
    // Top-ups wait for a round trip; the default wait (250 ms) covers 50 ms each way with room.
    return (await cluster.startStore(id, { hubPort: proxy.port })).url;
  };

  const receive = async (store: string, sku: string, quantity: number): Promise<void> => {
    expect((await post(store, '/v1/receipts', { sku, quantity }, `${sku}-in`)).status).toBe(201);
    // Sell from the state right after the receipt, as a till would: the hub has not split the shelf yet.
  };

  const refusals = (statuses: { status: number; body: Record<string, unknown> }[]) =>
    statuses.filter((s) => s.status !== 201).map((s) => s.body);

  it('20 ms each way: a shelf of 60 sold one unit at a time, no refusal', async () => {
    const store = await storeBehind('lat20', 20);
    const sku = 'SHELF-20';
    await receive(store, sku, 60);
    const answers = [];
    for (let i = 0; i < 60; i++) {
      answers.push(await post(store, '/v1/sales', { sku, quantity: 1 }, `${sku}-sale-${i}`));
    }
    expect(refusals(answers)).toEqual([]);
    // The shelf is empty and the hub agrees: nothing was sold twice.
    await eventually(async () => (await get(store, `/v1/skus/${sku}`)).body, { onShelf: 0, pendingSync: false });
    await eventually(async () => (await get(cluster.hub?.url ?? '', `/v1/skus/${sku}`)).body, { available: 0 });
    const metrics = await (await fetch(`${store}/metrics`)).text();
    expect(metric(metrics, 'shelfsync_sales_total', { outcome: 'refused_connected', store: 'lat20' }) ?? 0).toBe(0);
    // One more sale finds the location empty: refused, and it says so.
    const empty = await post(store, '/v1/sales', { sku, quantity: 1 }, `${sku}-sale-empty`);
    expect(empty.status).toBe(409);
    expect(empty.body).toMatchObject({ details: { cause: 'location_empty', hubReachable: true } });
    const counted = await (await fetch(`${store}/metrics`)).text();
    expect(metric(counted, 'shelfsync_sales_refused_total', { cause: 'location_empty', store: 'lat20' })).toBe(1);
  }, 120_000);
});
