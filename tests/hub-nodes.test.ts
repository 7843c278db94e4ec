import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, eventually, get, post } from './support/cluster.js';

/** A loopback port nothing listens on: bound, then released. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const connectedStores = async (hubUrl: string): Promise<string[]> =>
  ((await get(hubUrl, '/v1/stores')).body.stores as { storeId: string; connected: boolean }[])
    .filter((store) => store.connected)
    .map((store) => store.storeId);

/**
 * `--hub A,B,...`: a store connects to the first node it can reach and moves on
 * when its node fails. Two hubs with the same signing secret stand in for two
 * nodes here (the cluster, one chain on one database, is not built yet); what is
 * checked is the store's link, not what the nodes share.
 */
describe('a store given several hub nodes', () => {
  const first = new Cluster({ escrow: 'off' });
  const second = new Cluster({ escrow: 'off' });
  let dead = 0;
  beforeAll(async () => {
    await Promise.all([first.startHub(), second.startHub()]);
    dead = await deadPort();
  }, 60_000);
  afterAll(async () => {
    await Promise.all([first.stop(), second.stop()]);
  }, 30_000);

  it('skips a node it cannot reach, and moves on when its node is killed', async () => {
    const nodes = [dead, first.hubPort, second.hubPort].map((port) => `ws://127.0.0.1:${port}`);
    // The token comes from `first`; both hubs share the tests' signing secret.
    await first.startStore('north', { hubUrl: nodes.join(',') });
    const store = first.store('north');
    await eventually(() => get(store, '/v1/status').then((r) => r.body), {
      hub: { url: nodes.join(','), node: nodes[1], connected: true, caughtUp: true },
    });
    expect(await connectedStores(first.hub?.url ?? '')).toEqual(['north']);
    expect((await post(store, '/v1/receipts', { sku: 'NODES-1', quantity: 5 }, 'nodes-in')).status).toBe(201);
    await eventually(() => get(first.hub?.url ?? '', '/v1/skus/NODES-1').then((r) => r.body), { available: 5 });

    await first.killHub();
    // The next node in the list, not the dead one before it, and at once.
    await eventually(
      () => get(store, '/v1/status').then((r) => r.body),
      { hub: { node: nodes[2], connected: true, caughtUp: true } },
      20_000,
    );
    expect(await connectedStores(second.hub?.url ?? '')).toEqual(['north']);
    // What the store sold stays sold: its changes reach the node it moved to.
    expect((await post(store, '/v1/sales', { sku: 'NODES-1', quantity: 2 }, 'nodes-sale')).status).toBe(201);
    await eventually(() => get(second.hub?.url ?? '', '/v1/skus/NODES-1').then((r) => r.body), { available: 3 });
  }, 90_000);
});
