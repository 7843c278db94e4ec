import type { Logger } from '@shelfsync/edge';
import { AllocatorConfigSchema } from '@shelfsync/escrow';
import type { PgHubDocuments } from '@shelfsync/hub-pg';
import { SkuSchema, StoreIdSchema, type Sku, type StoreId } from '@shelfsync/protocol';
import {
  HubAllocator,
  type AllocatorHooks,
  type HubDocumentStore,
  type HubSync,
  type TopUpAnswer,
} from '@shelfsync/sync';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { HubConfig } from './config.js';
import type { HubObserver } from './hub-metrics.js';
import type { HubClusterNode } from './hub-records.js';
import { ownerRoute, type OwnerRoute } from './owner-route.js';
import { passing } from './hub-cluster.js';

/**
 * The escrow allocator and its rebalancing rounds. Every hub write goes
 * through the sync's engine; the allocator reads the documents and asks stores
 * through the sync. With `--escrow off` it is built (reservations still use
 * it) but neither attached nor swept.
 */
export function startEscrow(
  config: HubConfig,
  documents: HubDocumentStore,
  sync: HubSync,
  observe: HubObserver,
  log: Logger,
  cluster: HubClusterNode | null = null,
): { allocator: HubAllocator; stop: () => void } {
  const allocator = new HubAllocator(
    documents,
    sync.engine,
    sync,
    AllocatorConfigSchema.parse({
      horizonMs: config.escrowHorizonMs,
      halfLifeMs: config.escrowHalfLifeMs,
      minQuota: config.escrowMinQuota,
      onlineFloor: config.escrowOnlineFloor,
      onlinePooling: config.escrowOnlinePooling,
      releaseWaitMs: config.reservationReleaseWaitMs,
    }),
    Date.now,
    (event) => observe.allocatorEvent(event),
  );
  observe.watchAllocator(allocator);
  if (config.escrow !== 'on') return { allocator, stop: () => undefined };
  sync.useAllocator(cluster === null ? allocator : clusterHooks(allocator, cluster.documents, ownerRoute(cluster)));
  // Store updates other nodes commit reach this allocator too: their sales, and the owner's rebalancing.
  cluster?.storeUpdates.listen((storeId, sku) => {
    allocator
      .heard(storeId, sku)
      .catch((error: unknown) => log.warn({ err: String(error), sku }, 'rebalancing failed'));
  });
  let sweeping = false;
  const rebalanceTimer = setInterval(() => {
    // A round that outlasts the interval is not joined by another.
    if (sweeping) return;
    sweeping = true;
    allocator
      .sweep()
      .catch((error: unknown) =>
        passing(error, cluster)
          ? log.warn({ err: String(error) }, 'rebalancing failed')
          : log.error({ err: error }, 'rebalancing failed'),
      )
      .finally(() => (sweeping = false));
  }, config.escrowRebalanceMs);
  rebalanceTimer.unref();
  return { allocator, stop: () => clearInterval(rebalanceTimer) };
}

/** How long a top-up waits for the owner's grant, and then for its node to relay it: within a store's patience. */
const OWNER_TOP_UP_MS = 5_000;

const TopUpBodySchema = z.strictObject({ storeId: StoreIdSchema, sku: SkuSchema, quantity: z.int().min(1) });
const Count = z.int().min(0);
const TopUpGrantSchema = z.strictObject({
  granted: Count,
  available: Count,
  rights: Count,
  /** The SKU's last change once the grant was made: the asking node relays up to it before answering. */
  change: Count.nullable(),
});

/**
 * The allocator on a cluster node. A store's top-up for a SKU another node
 * writes goes to that node, and its answer reaches the store only once this
 * node has relayed the grant, so the store holds what it was told it has.
 * Store updates are heard as on one hub: the allocator asks stores connected
 * here to release, and leaves the owner's writes to the owner.
 */
function clusterHooks(allocator: HubAllocator, documents: PgHubDocuments, route: OwnerRoute): AllocatorHooks {
  route.serve('topup', async (_id, body) => {
    const { storeId, sku, quantity } = TopUpBodySchema.parse(body);
    const answer = await allocator.topUp(storeId, sku, quantity);
    return { ...answer, change: documents.changeOf(sku)?.seq ?? null } satisfies z.infer<typeof TopUpGrantSchema>;
  });
  return {
    accepted: (storeId, sku) => allocator.accepted(storeId, sku),
    async topUp(storeId: StoreId, sku: Sku, quantity: number): Promise<TopUpAnswer> {
      if (route.owns(sku)) return allocator.topUp(storeId, sku, quantity);
      const asked = await route.ask(sku, 'topup', `topup:${randomUUID()}`, { storeId, sku, quantity }, OWNER_TOP_UP_MS);
      const { change, ...answer } = TopUpGrantSchema.parse(asked);
      if (change !== null && !(await documents.relayedThrough(change, OWNER_TOP_UP_MS))) {
        throw new Error(`the grant of ${sku} did not reach this node within ${OWNER_TOP_UP_MS} ms`);
      }
      return answer;
    },
  };
}
