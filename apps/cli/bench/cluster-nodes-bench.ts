import autocannon from 'autocannon';
import { metricSum } from '../src/index.js';
import { HubNodes } from './hub-nodes.js';
import { postJson } from './post-json.js';

export interface BenchRow {
  readonly name: string;
  readonly value: string;
  readonly note: string;
}

const STORES = ['north', 'central', 'south', 'east', 'west', 'harbour'];
const IN_FLIGHT = 8;
const SKUS = Array.from({ length: 200 }, (_, i) => `NODES-${String(i).padStart(3, '0')}`);

const post = async (url: string, body: unknown, key: string): Promise<number> =>
  (await postJson(url, body, key)).status;

/** Store updates merged by every running node so far (`shelfsync_store_updates_merged_total`). */
async function merged(nodes: HubNodes): Promise<number> {
  let total = 0;
  for (const name of nodes.names) {
    total += metricSum(
      await (await fetch(`${nodes.url(name)}/metrics`)).text(),
      'shelfsync_store_updates_merged_total',
    );
  }
  return total;
}

/**
 * The same work on one hub process and on three, all on one PostgreSQL server
 * on this machine: six stores selling as fast as their tills answer (the stores
 * spread over the nodes, eight sales in flight each), then storefront reads at as many requests as the
 * nodes answer (autocannon against every node at once). Both are bounded by
 * the machine's cores, which every process here shares.
 */
async function measure(
  names: readonly string[],
  seconds: number,
): Promise<{ merges: number; sales: number; refused: string; reads: number }> {
  const nodes = await HubNodes.start(names, ['--escrow', 'off']);
  try {
    const { cluster } = nodes;
    const stores: string[] = [];
    for (const [i, id] of STORES.entries()) {
      // Each store tries the nodes in its own order: their sessions spread over the cluster.
      const order = names.map((_, k) => names[(i + k) % names.length] ?? 'a');
      stores.push((await cluster.startStore(id, { hubUrl: cluster.hubNodeList(order) })).url);
    }
    for (const [i, sku] of SKUS.entries()) {
      await post(`${stores[i % stores.length] ?? ''}/v1/receipts`, { sku, quantity: 1_000_000 }, `in-${sku}`);
    }
    const before = await merged(nodes);
    let selling = true;
    let sold = 0;
    const refused = new Map<number, number>();
    // Eight sales in flight per store: a till's answer waits for its fsync, so one at a time measures the disk.
    const sellers = stores.flatMap((url, s) =>
      Array.from({ length: IN_FLIGHT }, async (_, lane) => {
        for (let i = 0; selling; i++) {
          // Each store sells the SKUs it received: a sale of another store's SKU would only be refused.
          const sku = SKUS[s + STORES.length * ((lane * 11 + i) % Math.floor(SKUS.length / STORES.length))];
          const status = await post(`${url}/v1/sales`, { sku, quantity: 1 }, `s${s}-${lane}-${i}`);
          if (status === 201) sold++;
          else refused.set(status, (refused.get(status) ?? 0) + 1);
        }
      }),
    );
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    selling = false;
    await Promise.all(sellers);
    const elapsed = (Date.now() - started) / 1000;
    const merges = ((await merged(nodes)) - before) / elapsed;
    const sales = sold / elapsed;
    const reads = await Promise.all(
      names.map((name, n) =>
        autocannon({
          url: nodes.url(name),
          connections: 16,
          duration: seconds,
          requests: [
            {
              method: 'GET',
              setupRequest: (request) => ({ ...request, path: `/v1/skus/${SKUS[n * 7] ?? 'NODES-000'}` }),
            },
          ],
        }),
      ),
    );
    const refusedText =
      refused.size === 0 ? 'none refused' : [...refused].map(([status, n]) => `${n} answered ${status}`).join(', ');
    return { merges, sales, refused: refusedText, reads: reads.reduce((sum, r) => sum + r.requests.average, 0) };
  } finally {
    await nodes.stop();
  }
}

export async function runClusterNodesBench(seconds = 10): Promise<BenchRow[]> {
  const one = await measure(['a'], seconds);
  const three = await measure(['a', 'b', 'c'], seconds);
  const note = (nodes: number): string =>
    `${nodes} hub process${nodes === 1 ? '' : 'es'}, 6 stores with 8 sales in flight each, PostgreSQL, all on this machine's cores`;
  return [
    {
      name: 'store updates merged per second, 1 node',
      value: one.merges.toFixed(0),
      note: `${note(1)}; ${one.sales.toFixed(0)} sales/s acknowledged at the tills, ${one.refused}`,
    },
    {
      name: 'store updates merged per second, 3 nodes',
      value: three.merges.toFixed(0),
      note: `${note(3)}; ${three.sales.toFixed(0)} sales/s acknowledged at the tills, ${three.refused}`,
    },
    { name: 'storefront reads per second, 1 node', value: one.reads.toFixed(0), note: 'autocannon, 16 connections' },
    {
      name: 'storefront reads per second, 3 nodes',
      value: three.reads.toFixed(0),
      note: 'autocannon, 16 connections per node, every node at once',
    },
  ];
}
