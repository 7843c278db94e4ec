import { performance } from 'node:perf_hooks';
import { HubNodes, percentile } from './hub-nodes.js';
import { postJson } from './post-json.js';

export interface BenchRow {
  readonly name: string;
  readonly value: string;
  readonly note: string;
}

const NODES = ['a', 'b', 'c'];
const SKUS = Array.from({ length: 30 }, (_, i) => `FAILOVER-${i}`);
const STOCK = 5_000;

/**
 * Failover of a real hub node: three hub processes on one PostgreSQL server
 * (default leases: 4 s, renewed every second) and a store that knows them all.
 * Each round kills -9 the node that owns a stocked SKU, then asks a survivor
 * for a reservation of that SKU until one is held: the time from the kill to
 * that answer is what an online customer waits at worst. The node is started
 * again and the shards rebalanced before the next round.
 */
export async function runFailoverBench(kills = 20): Promise<BenchRow[]> {
  // Most of each SKU's shelf sits in its online escrow, so every round finds units to reserve.
  const nodes = await HubNodes.start(NODES, [
    '--escrow-online-floor',
    String(STOCK / 2),
    '--reservation-release-wait-ms',
    '0',
    '--reservation-ttl-ms',
    '3600000',
  ]);
  const times: number[] = [];
  try {
    const { cluster } = nodes;
    const store = await cluster.startStore('north', { hubUrl: cluster.hubNodeList(NODES) });
    for (const sku of SKUS) {
      await postJson(`${store.url}/v1/receipts`, { sku, quantity: STOCK }, `in-${sku}`, {});
    }
    for (const sku of SKUS) await onlineAtLeast(nodes, sku, STOCK / 4);
    for (let round = 0; times.length < kills; round++) {
      const victim = NODES[round % NODES.length] ?? 'a';
      const survivor = NODES[(round + 1) % NODES.length] ?? 'b';
      const sku = await skuOf(nodes, victim, survivor);
      if (sku === undefined) continue;
      await nodes.killNode(victim);
      const killed = performance.now();
      await reserveUntilHeld(nodes, survivor, sku, `failover-${round}`);
      times.push(performance.now() - killed);
      await nodes.startNode(victim);
      await nodes.balanced();
    }
  } finally {
    await nodes.stop();
  }
  const sorted = [...times].sort((x, y) => x - y);
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  const note = `${kills} kills -9 of the SKU's owner among 3 hub processes; lease 4 s, renewed every 1 s`;
  return [
    {
      name: 'failover: kill -9 to a reservation held on a survivor, p50',
      value: seconds(percentile(sorted, 50)),
      note,
    },
    {
      name: 'failover: p99',
      value: seconds(percentile(sorted, 99)),
      note: `with fewer than 100 samples the p99 is the largest`,
    },
    { name: 'failover: max', value: seconds(sorted.at(-1) ?? NaN), note: `min ${seconds(sorted[0] ?? NaN)}` },
  ];
}

/** Waits until node `a` shows at least `units` of `sku` in north's online escrow. */
async function onlineAtLeast(nodes: HubNodes, sku: string, units: number): Promise<void> {
  const until = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(`${nodes.url(NODES[0] ?? 'a')}/v1/skus/${sku}`);
    const stock = (await res.json()) as { locations?: { onlineRights: number }[] };
    if ((stock.locations?.[0]?.onlineRights ?? 0) >= units) return;
    if (Date.now() > until) throw new Error(`${sku} did not reach ${units} online`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A stocked SKU that `victim` owns, as `asked` sees the cluster. */
async function skuOf(nodes: HubNodes, victim: string, asked: string): Promise<string | undefined> {
  for (const sku of SKUS) if ((await nodes.ownerOf(sku, asked)) === victim) return sku;
  return undefined;
}

/** Asks `survivor` to reserve one unit under `key` until it is held; a 503 (owner gone or moving) is asked again. */
async function reserveUntilHeld(nodes: HubNodes, survivor: string, sku: string, key: string): Promise<void> {
  const auth = { authorization: `Bearer ${nodes.cluster.apiToken}` };
  const until = Date.now() + 60_000;
  for (;;) {
    const answer = await postJson(`${nodes.url(survivor)}/v1/reservations`, { sku, quantity: 1 }, key, auth);
    if (answer.status === 201) return;
    if (answer.status !== 503 || Date.now() > until) {
      throw new Error(`reserving ${sku} after the kill answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    }
  }
}
