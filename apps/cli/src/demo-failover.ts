import { shardOf } from '@shelfsync/hub-pg';
import { z } from 'zod';
import { portNames, readClusterView, settled, waitForView, type HubNodes } from './demo-cluster-view.js';

/** What the drill needs of the cluster demo. */
export interface FailoverTargets {
  readonly nodes: HubNodes;
  readonly victim: string;
  readonly catalog: readonly string[];
  readonly apiToken: string;
  /** The store whose online account the probe reservations ask of. */
  readonly storeId: string;
  /** True once the demo stops: the drill ends its waits. */
  readonly stopping: () => boolean;
  readonly kill: (name: string) => Promise<void>;
  readonly restart: (name: string) => Promise<void>;
}

const ReservationSchema = z.looseObject({ id: z.string().optional() });
const WAIT_MS = 60_000;
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/**
 * The failover drill: kills hub node `victim` with -9, measures how long
 * until its shards have live owners again and until its SKUs take a
 * reservation again at a survivor, then restarts it and measures how long
 * until it holds shards again. Returns the report's lines.
 */
export async function runFailoverDrill(targets: FailoverTargets, log: (line: string) => void): Promise<string[]> {
  const before = await readClusterView(targets.nodes);
  const ports = portNames(targets.nodes);
  const victimId = before?.nodes.find(
    (n) => n.url !== null && ports.get(Number(new URL(n.url).port)) === targets.victim,
  )?.node;
  if (before === null || victimId === undefined) return ['  failover: skipped (the cluster did not answer)'];
  const owned = (sku: string): boolean =>
    before.shards.find((s) => s.shard === shardOf(sku, before.shardCount))?.node === victimId;
  const skus = victimSkus(targets.catalog, owned);

  await targets.kill(targets.victim);
  const killedAt = Date.now();
  log(`killed hub node ${targets.victim} with -9; probing its SKUs ${skus.join(', ')} at the survivors`);
  const [moved, served] = await Promise.all([
    waitForView(targets.nodes, WAIT_MS, (view) => settled(view, targets.nodes.size, 1), targets.stopping).then((ok) =>
      ok ? Date.now() - killedAt : null,
    ),
    Promise.all(skus.map((sku) => probe(targets, sku))).then((times) =>
      times.every((t) => t !== null) ? Math.max(...times) - killedAt : null,
    ),
  ]);
  const lines = [
    `  failover: hub node ${targets.victim} killed with -9 (its SKUs ${skus.join(', ')})`,
    `    its shards had live owners again after ${moved === null ? `more than ${seconds(WAIT_MS)}` : seconds(moved)}`,
    `    its SKUs took reservations at the survivors again after ${served === null ? `more than ${seconds(WAIT_MS)}` : seconds(served)}`,
  ];
  log(lines.slice(1).join(';').replace(/\s+/g, ' ').trim());

  const restartAt = Date.now();
  await targets.restart(targets.victim);
  const back = await waitForView(
    targets.nodes,
    WAIT_MS,
    (view) => settled(view, targets.nodes.size, 3),
    targets.stopping,
  );
  const rejoined = `    restarted, it held shards again after ${back ? seconds(Date.now() - restartAt) : `more than ${seconds(WAIT_MS)}`}`;
  log(rejoined.trim());
  return [...lines, rejoined];
}

/** The catalog's SKUs on the victim's shards (at most three), or a probe SKU of its own when none is. */
function victimSkus(catalog: readonly string[], owned: (sku: string) => boolean): string[] {
  const mine = catalog.filter(owned).slice(0, 3);
  if (mine.length > 0) return mine;
  for (let n = 0; n < 10_000; n++) if (owned(`FAILOVER-PROBE-${n}`)) return [`FAILOVER-PROBE-${n}`];
  return [];
}

/**
 * Asks the survivors in turn for a one-unit reservation of `sku` under one key
 * until one decides it (201 held, or 409: nothing to hold: either way the
 * SKU's writer answered); cancels a held one. The time it was decided, or null.
 */
async function probe(targets: FailoverTargets, sku: string): Promise<number | null> {
  const auth = { authorization: `Bearer ${targets.apiToken}`, 'content-type': 'application/json' };
  const key = `failover-probe-${sku}-${Date.now()}`;
  const deadline = Date.now() + WAIT_MS;
  for (let attempt = 0; Date.now() < deadline && !targets.stopping(); attempt++) {
    const urls = [...targets.nodes.values()].map((node) => node.url);
    const url = urls[attempt % urls.length] ?? '';
    try {
      const res = await fetch(`${url}/v1/reservations`, {
        method: 'POST',
        headers: { ...auth, 'idempotency-key': key },
        body: JSON.stringify({ sku, quantity: 1, storeId: targets.storeId }),
        signal: AbortSignal.timeout(5_000),
      });
      const body = ReservationSchema.safeParse(await res.json().catch(() => null)).data;
      if (res.status === 201 || res.status === 409) {
        const decidedAt = Date.now();
        if (body?.id !== undefined) await cancel(url, body.id, auth);
        return decidedAt;
      }
    } catch {
      // The node did not answer: the next one.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return null;
}

async function cancel(url: string, id: string, headers: Record<string, string>): Promise<void> {
  const res = await fetch(`${url}/v1/reservations/${id}/cancel`, {
    method: 'POST',
    headers: { ...headers, 'idempotency-key': `cancel-${id}` },
    body: '{}',
  }).catch(() => null);
  await res?.arrayBuffer();
}
