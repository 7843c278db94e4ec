import { shardOf } from '@shelfsync/hub-pg';
import { skipPgTests, startPostgresServer, type PostgresServer } from '@shelfsync/storage-pg/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startBurst } from './support/burst.js';
import { Cluster, eventually, get, post, type JsonResponse } from './support/cluster.js';

const NODES = ['a', 'b', 'c'] as const;
type NodeName = (typeof NODES)[number];

interface ClusterView {
  shardCount: number;
  nodes: { node: string; url: string | null; alive: boolean; stores: number }[];
  shards: { shard: number; node: string | null; live: boolean }[];
}

interface Location {
  location: string;
  posRights: number;
  onlineRights: number;
  reserved: number;
}

/**
 * Three real hub processes on one real PostgreSQL server, and a store that
 * knows them all. Each node serves the whole API: a reservation for a SKU
 * another node writes is handed to that node and answered where it was asked.
 */
describe.skipIf(skipPgTests())('three hub nodes on one PostgreSQL database', () => {
  let server: PostgresServer;
  let cluster: Cluster;
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${cluster.apiToken}` });
  const node = (name: NodeName): string => cluster.hubNode(name);
  const reserve = (name: NodeName, body: unknown, key?: string): Promise<JsonResponse> =>
    post(node(name), '/v1/reservations', body, key, auth());
  const location = async (name: NodeName, sku: string): Promise<Location | undefined> =>
    ((await get(node(name), `/v1/skus/${sku}`)).body.locations as Location[] | undefined)?.find(
      (l) => l.location === 'north',
    );

  /** Each running node's id in the cluster, by its name here: `/v1/cluster` says which node answered. */
  const ids = new Map<NodeName, string>();

  /** The node (by name) that holds `sku`'s shard lease now, as node `asked` sees the cluster. */
  async function ownerOf(sku: string, asked: NodeName): Promise<NodeName | undefined> {
    const view = (await get(node(asked), '/v1/cluster')).body as unknown as ClusterView;
    const owner = view.shards.find((s) => s.shard === shardOf(sku, view.shardCount))?.node;
    return NODES.find((name) => ids.get(name) === owner);
  }

  /** A SKU (`<prefix>-<n>`) whose shard node `owner` holds. */
  async function skuOwnedBy(owner: NodeName, prefix: string): Promise<string> {
    for (let n = 0; n < 500; n++) {
      const sku = `${prefix}-${n}`;
      if ((await ownerOf(sku, owner)) === owner) return sku;
    }
    throw new Error(`no SKU of node ${owner}`);
  }

  /**
   * Reserves one unit of `sku` at node `name` under `key`, asking again with
   * the same key while the answer says to retry (a 503: the SKU's owner moved
   * or did not answer), as a client must; the decided answer (201 or 409).
   */
  async function reserveUntilDecided(
    name: NodeName,
    sku: string,
    key: string,
    withinMs: number,
  ): Promise<JsonResponse> {
    const until = Date.now() + withinMs;
    for (;;) {
      const answer = await reserve(name, { sku, quantity: 1 }, key);
      if (answer.status !== 503 || Date.now() > until) return answer;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Receives `quantity` of `sku` at the store and waits until every running node sees `online` of it online. */
  async function stock(sku: string, quantity: number, online: number): Promise<void> {
    const receipt = await post(cluster.store('north'), '/v1/receipts', { sku, quantity }, `in-${sku}`);
    expect(receipt.status).toBe(201);
    for (const name of NODES.filter((n) => cluster.hubNodes.has(n))) {
      await eventually(() => location(name, sku), { posRights: quantity - online, onlineRights: online }, 30_000);
    }
  }

  beforeAll(async () => {
    server = await startPostgresServer();
    // The escrow keeps a floor of 10 online and is never asked for more, so the online rights are exact.
    cluster = new Cluster({
      hubFlags: [
        '--database',
        server.url,
        '--reservation-ttl-ms',
        '600000',
        '--escrow-online-floor',
        '10',
        '--reservation-release-wait-ms',
        '0',
      ],
    });
    for (const name of NODES) {
      await cluster.startHubNode(name);
      ids.set(name, String((await get(node(name), '/v1/cluster')).body.node));
    }
    // Every node holds a share of the shards before the store comes.
    await vi.waitFor(
      async () => {
        const view = (await get(node('a'), '/v1/cluster')).body as unknown as ClusterView;
        expect(view.nodes.filter((n) => n.alive)).toHaveLength(3);
        const owners = new Set(view.shards.filter((s) => s.live).map((s) => s.node));
        expect(owners.size).toBe(3);
        expect(view.shards.every((s) => s.live)).toBe(true);
        // Each node started on port 0 and recorded its address once it listened.
        expect(new Set(view.nodes.map((n) => n.url))).toEqual(new Set(NODES.map((n) => node(n))));
      },
      { timeout: 30_000, interval: 200 },
    );
    // A top-up for a SKU another node writes goes through the database: the till waits longer than on one hub.
    await cluster.startStore('north', {
      hubUrl: cluster.hubNodeList(['a', 'b', 'c']),
      flags: ['--top-up-wait-ms', '3000'],
    });
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
    await server?.stop();
  }, 30_000);

  it('holds exactly 10 of 90 concurrent reservations for 10 units asked of all three nodes, and the nodes agree', async () => {
    // The store is on node a; the SKU is written by node b: every path crosses a node.
    const sku = await skuOwnedBy('b', 'RUSH');
    await stock(sku, 12, 10);
    const answers = await Promise.all(
      Array.from({ length: 90 }, (_, i) => reserve(NODES[i % 3] ?? 'a', { sku, quantity: 1 }, `rush-${i}`)),
    );
    const made = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status === 409);
    expect(made).toHaveLength(10);
    expect(refused).toHaveLength(80);
    expect(refused.every((a) => a.body.code === 'INSUFFICIENT_STOCK')).toBe(true);
    expect(new Set(made.map((a) => a.body.id)).size).toBe(10);
    for (const name of NODES) {
      await eventually(() => location(name, sku), { onlineRights: 0, reserved: 10 }, 15_000);
    }
    // A retry on another node gets the first answer: the keys are the cluster's.
    const first = answers.findIndex((a) => a.status === 201);
    const retried = await reserve(NODES[(first + 1) % 3] ?? 'a', { sku, quantity: 1 }, `rush-${first}`);
    expect(retried.status).toBe(201);
    expect(retried.body.id).toBe(answers[first]?.body.id);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    // Every node reads each reservation, and a cancel asked of a node that does not write the SKU lands.
    const id = String(made[0]?.body.id);
    for (const name of NODES) expect((await get(node(name), `/v1/reservations/${id}`, auth())).body.state).toBe('held');
    const cancelled = await post(node('c'), `/v1/reservations/${id}/cancel`, {}, undefined, auth());
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.state).toBe('cancelled');
    for (const name of NODES) {
      await eventually(() => location(name, sku), { onlineRights: 1, reserved: 9 }, 15_000);
    }
    // A revalidation on another node: the same version has the same ETag everywhere.
    const fromA = await get(node('a'), `/v1/skus/${sku}`);
    const etag = fromA.headers.get('etag') ?? '';
    expect(etag).not.toBe('');
    for (const name of ['b', 'c'] as const) {
      const res = await fetch(`${node(name)}/v1/skus/${sku}`, { headers: { 'if-none-match': etag } });
      expect(res.status).toBe(304);
    }
    // Every node's summary counts every node's calls: 10 held and 80 refused where the owner decided, 1 cancel asked of c.
    for (const name of NODES) {
      await vi.waitFor(
        async () => {
          const minutes = (await get(node(name), '/v1/summary')).body.minutes as {
            reservations: Record<string, number>;
          }[];
          const total = (key: string): number => minutes.reduce((sum, m) => sum + (m.reservations[key] ?? 0), 0);
          expect({ held: total('held'), refused: total('refused'), cancelled: total('cancelled') }).toEqual({
            held: 10,
            refused: 80,
            cancelled: 1,
          });
        },
        { timeout: 15_000, interval: 200 },
      );
    }
  }, 120_000);

  it("a till short of rights is topped up by the SKU's owner through the store's node, and sells", async () => {
    // North's session is on node a; node c writes the SKU. 12 received: 2 at the till, 10 in the online escrow.
    const sku = await skuOwnedBy('c', 'TOPUP');
    await stock(sku, 12, 10);
    const sale = await post(cluster.store('north'), '/v1/sales', { sku, quantity: 5 }, `sell-${sku}`);
    expect(sale.status).toBe(201);
    for (const name of NODES)
      await eventually(() => get(node(name), `/v1/skus/${sku}`).then((r) => r.body), { available: 7 });
  }, 60_000);

  it('a node killed with -9 mid-sales and mid-reservations: its SKUs take reservations on the survivors within 10 s, nothing acknowledged is lost, and the survivors agree', async () => {
    // The store sells on node a, and node a writes both SKUs: the kill takes the store's session and their owner.
    // Sales and reservations go to SKUs of their own, so the till's velocity moves no online rights.
    const sku = await skuOwnedBy('a', 'FAIL');
    const sold = await skuOwnedBy('a', 'SOLD');
    await stock(sku, 12, 10);
    await stock(sold, 1_000, 10);
    const burst = startBurst([{ id: 'north', url: cluster.store('north'), sku: sold }], 'fail');
    const reservations: string[] = [];
    let asking = true;
    const reserving = (async () => {
      for (let i = 0; asking && reservations.length < 6; i++) {
        const made = await reserveUntilDecided(i % 2 === 0 ? 'b' : 'c', sku, `fail-r-${i}`, 30_000);
        if (made.status === 201) reservations.push(String(made.body.id));
      }
    })();
    await vi.waitFor(() => expect(burst.total() >= 20 && reservations.length >= 2).toBe(true), {
      timeout: 60_000,
      interval: 20,
    });
    await cluster.killHubNode('a');
    const killedAt = Date.now();
    asking = false;

    // A survivor takes a reservation of the dead node's SKU once its shard has moved.
    const afterKill = await reserveUntilDecided('c', sku, 'after-kill', 10_000);
    expect(afterKill.body).toMatchObject({ state: 'held' });
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    reservations.push(String(afterKill.body.id));
    // The reservations asked across the kill are decided too (each retried with its key until it is).
    await reserving;
    await burst.stop();

    // Every reservation acknowledged is held, on both survivors.
    for (const id of reservations) {
      for (const name of ['b', 'c'] as const) {
        expect((await get(node(name), `/v1/reservations/${id}`, auth())).body.state).toBe('held');
      }
    }
    // Every sale the store acknowledged reaches the survivors (the store moved to one of them), and they agree.
    const sales = burst.sold.get('north') ?? 0;
    const expected = new Map([
      [sku, 12 - reservations.length],
      [sold, 1_000 - sales],
    ]);
    for (const [each, available] of expected) {
      for (const name of ['b', 'c'] as const) {
        await eventually(() => get(node(name), `/v1/skus/${each}`).then((r) => r.body), { available }, 30_000);
      }
      const [onB, onC] = await Promise.all([get(node('b'), `/v1/skus/${each}`), get(node('c'), `/v1/skus/${each}`)]);
      expect(onB.body).toEqual(onC.body);
    }
    // The store moved to a survivor: one session across the cluster, as the nodes report it.
    await vi.waitFor(
      async () => {
        const view = (await get(node('b'), '/v1/cluster')).body as unknown as ClusterView;
        expect(view.nodes.filter((n) => n.alive).reduce((sum, n) => sum + n.stores, 0)).toBe(1);
      },
      { timeout: 15_000, interval: 200 },
    );
    // The reservation made before the kill is cancelled by the new owner, which adopted it.
    const cancelled = await post(node('b'), `/v1/reservations/${reservations[0]}/cancel`, {}, undefined, auth());
    expect(cancelled.body.state).toBe('cancelled');
  }, 180_000);
});
