import { finalSkuOf, replicaAgrees, shareOf, type FinalSku } from '@shelfsync/checker';
import type { StoreId } from '@shelfsync/protocol';
import type { SimClient } from './sim-client.js';
import { waitFor } from './wait.js';
import type { Endpoints } from './workload.js';

/** Every replica's final ledger of every SKU: the hub's under "hub", each store's under its id. */
export type Replicas = Record<string, Record<string, FinalSku>>;

/** Reads the final state from every replica: the hub (each node, in cluster mode), then each store, SKU by SKU. */
export async function readReplicas(
  client: SimClient,
  endpoints: Endpoints,
  storeIds: readonly StoreId[],
  skus: readonly string[],
): Promise<Replicas> {
  const read = async (base: string, auth: boolean): Promise<Record<string, FinalSku>> => {
    const out: Record<string, FinalSku> = {};
    for (const sku of skus) {
      const res = await client.get(`${base}/v1/skus/${sku}/ledger`, auth);
      if (res.status !== 200) continue;
      out[sku] = finalSkuOf(res.body as unknown as FinalSku);
    }
    return out;
  };
  const replicas: Replicas = {};
  for (const hub of endpoints.hubs ?? [{ name: 'hub', url: endpoints.hubUrl }])
    replicas[hub.name] = await read(hub.url, true);
  for (const [i, id] of storeIds.entries()) replicas[id] = await read(endpoints.storeUrl(i), false);
  return replicas;
}

/**
 * Quiescence: reads every replica until all hold the same documents, or
 * `timeoutMs` passes; returns the last reading and whether they converged.
 */
export async function awaitConvergence(
  read: () => Promise<Replicas>,
  timeoutMs: number,
): Promise<{ replicas: Replicas; converged: boolean }> {
  let replicas = await read();
  const converged = await waitFor('convergence', timeoutMs, async () => {
    replicas = await read();
    return agree(replicas);
  }).then(
    () => true,
    () => false,
  );
  return { replicas, converged };
}

/** Whether every replica agrees with the first (the hub's, or the first node's) on every SKU either holds (`replicaAgrees`). */
function agree(replicas: Replicas): boolean {
  const [reference = {}, ...others] = Object.values(replicas);
  return others.every((other) =>
    [...new Set([...Object.keys(reference), ...Object.keys(other)])].every((sku) =>
      replicaAgrees(reference[sku], other[sku], shareOf(other)),
    ),
  );
}
