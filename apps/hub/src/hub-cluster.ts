import type Router from '@koa/router';
import { problem, type Metrics, type RequestState } from '@shelfsync/edge';
import { NotShardOwner, type PgHubDocuments } from '@shelfsync/hub-pg';
import { ErrorCode, type ClusterSchema } from '@shelfsync/protocol';
import { StorageWriteError } from '@shelfsync/storage';
import { isConnectionFailure } from '@shelfsync/storage-pg';
import { CommitConflict, type HubSync } from '@shelfsync/sync';
import type { Middleware } from 'koa';
import { hostname } from 'node:os';
import type { z } from 'zod';
import type { HubClusterNode } from './hub-records.js';

/**
 * A hub write this node could not make now (another node's change came first,
 * the SKU's shard lease is elsewhere or moving, or on PostgreSQL the database
 * did not take the commit) leaves as 503 WRITE_CONFLICT: a retry with the same
 * Idempotency-Key succeeds once the node has read the SKU again, the lease has
 * settled or the database is back. So does a read of the database that found it
 * down or cut off (a SKU read again after a failed write): an outage, not a bug.
 */
export function clusterProblems(cluster: HubClusterNode | null): Middleware<RequestState> {
  return async (_ctx, next) => {
    try {
      await next();
    } catch (error) {
      if (error instanceof Error && passing(error, cluster)) {
        throw problem(ErrorCode.WriteConflict, `${error.message}; try again`);
      }
      throw error;
    }
  };
}

/**
 * Whether `error` is a cluster's passing condition rather than a fault: the
 * SKU's lease is elsewhere or moving, another node's change came first, or
 * (on PostgreSQL, where a failed commit fails that write only and the node
 * reads the SKU again) the database did not take a commit or could not be read.
 */
export function passing(error: unknown, cluster: HubClusterNode | null): boolean {
  if (error instanceof NotShardOwner || error instanceof CommitConflict) return true;
  return cluster !== null && (error instanceof StorageWriteError || isConnectionFailure(error));
}

type ClusterBody = z.infer<typeof ClusterSchema>;

/** Store sync sessions live on this node now. */
export function liveStores(sync: HubSync): number {
  return sync.storeLinks().filter((link) => link.connected).length;
}

/**
 * Makes this node's heartbeats carry its live store sessions, so every node's
 * GET /v1/cluster shows where the stores are connected. The leases open before
 * the HubSync that counts the sessions, hence a setter.
 */
export function reportStoreSessions(cluster: HubClusterNode | null, sync: HubSync): void {
  cluster?.leases.reportStatus(() => ({ stores: liveStores(sync) }));
}

/**
 * GET /v1/cluster: the nodes on the database with their store sessions and
 * shards held, who owns each shard and under which epoch, and this node's
 * store sessions. The embedded hub answers as one node that writes every SKU.
 */
export function clusterRoutes(router: Router, cluster: HubClusterNode | null, sync: HubSync): void {
  const startedAt = new Date().toISOString();
  const embeddedNode = hostname();
  router.get('/v1/cluster', async (ctx) => {
    const stores = liveStores(sync);
    ctx.body = cluster === null ? embeddedView(embeddedNode, startedAt, stores) : await databaseView(cluster, stores);
  });
}

function embeddedView(node: string, startedAt: string, stores: number): ClusterBody {
  const heartbeatAt = new Date().toISOString();
  return {
    mode: 'embedded',
    node,
    stores,
    shardCount: 0,
    nodes: [{ node, url: null, startedAt, heartbeatAt, alive: true, stores, shards: 0 }],
    shards: [],
  };
}

/** The database's view; this node's own sessions are counted now rather than at its last heartbeat. */
async function databaseView(cluster: HubClusterNode, stores: number): Promise<ClusterBody> {
  const view = await cluster.leases.view();
  const held = new Map<string, number>();
  for (const shard of view.shards) {
    if (shard.live && shard.node !== null) held.set(shard.node, (held.get(shard.node) ?? 0) + 1);
  }
  return {
    mode: 'postgresql',
    node: cluster.node,
    stores,
    shardCount: view.shardCount,
    nodes: view.nodes.map((node) => ({
      node: node.node,
      url: node.url,
      startedAt: node.startedAt.toISOString(),
      heartbeatAt: node.heartbeatAt.toISOString(),
      alive: node.alive,
      stores: node.node === cluster.node ? stores : node.stores,
      shards: held.get(node.node) ?? 0,
    })),
    shards: view.shards.map((shard) => ({
      shard: shard.shard,
      node: shard.node,
      epoch: shard.epoch,
      expiresAt: shard.expiresAt.toISOString(),
      live: shard.live,
    })),
  };
}

/** Whether this node can take writes: on PostgreSQL, while it holds a lease (its database answers). */
export function clusterReady(cluster: HubClusterNode | null): boolean {
  return cluster === null || cluster.leases.ownedShards().length > 0;
}

/** Per-node cluster metrics: leases held and changed, commits the database refused, and the feed's lag. */
export function watchCluster(metrics: Metrics, cluster: HubClusterNode | null): void {
  if (cluster === null) return;
  const { leases, documents } = cluster;
  metrics.reading(
    'shelfsync_shard_leases_owned',
    'Shard leases this hub node holds',
    () => leases.ownedShards().length,
  );
  metrics.reading(
    'shelfsync_shard_lease_changes',
    'Shard leases this node took or lost since it started',
    () => leases.stats().leaseChanges,
  );
  metrics.reading(
    'shelfsync_shard_lease_renew_failures',
    'Lease rounds whose heartbeat or renewal failed since the node started',
    () => leases.stats().renewFailures,
  );
  metrics.reading(
    'shelfsync_fenced_writes_refused',
    'Hub writes the database refused because their shard lease had moved',
    () => documents.stats().leaseRefusals,
  );
  metrics.reading(
    'shelfsync_commit_conflicts',
    "Commits the database refused because another node's change came first",
    () => documents.stats().conflicts,
  );
  watchFeedLag(metrics, documents);
}

/**
 * How long other nodes' changes take to reach this node: from the time the
 * committing node stamped the change (just before its transaction) to this node
 * applying it from the feed. Includes the commit itself and any clock skew
 * between the nodes' hosts; a negative skew counts as 0.
 */
function watchFeedLag(metrics: Metrics, documents: PgHubDocuments): void {
  const lag = metrics.histogram(
    'shelfsync_change_feed_lag_seconds',
    "Time from another node's commit of a change to this node applying it from the change feed",
  );
  documents.onFeed((row, own) => {
    if (!own) lag.observe(Math.max(0, Date.now() - row.change.at) / 1000);
  });
}
