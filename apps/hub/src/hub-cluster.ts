import type Router from '@koa/router';
import { problem, type Metrics, type RequestState } from '@shelfsync/edge';
import { NotShardOwner } from '@shelfsync/hub-pg';
import { ErrorCode, type ClusterSchema } from '@shelfsync/protocol';
import { StorageWriteError } from '@shelfsync/storage';
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
 * settled or the database is back.
 */
export function clusterProblems(cluster: HubClusterNode | null): Middleware<RequestState> {
  return async (_ctx, next) => {
    try {
      await next();
    } catch (error) {
      // On PostgreSQL a failed commit fails that write only: the node reads the SKU again and goes on.
      const unstored = cluster !== null && error instanceof StorageWriteError;
      if (error instanceof NotShardOwner || error instanceof CommitConflict || unstored) {
        throw problem(ErrorCode.WriteConflict, `${error.message}; try again`);
      }
      throw error;
    }
  };
}

/**
 * GET /v1/cluster: the nodes on the database, who owns each shard and under
 * which epoch, and this node's store sessions. The embedded hub answers as one
 * node that writes every SKU.
 */
export function clusterRoutes(router: Router, cluster: HubClusterNode | null, sync: HubSync): void {
  const startedAt = new Date().toISOString();
  const embeddedNode = hostname();
  router.get('/v1/cluster', async (ctx) => {
    const stores = sync.storeLinks().filter((link) => link.connected).length;
    if (cluster === null) {
      const now = new Date().toISOString();
      ctx.body = {
        mode: 'embedded',
        node: embeddedNode,
        stores,
        shardCount: 0,
        nodes: [{ node: embeddedNode, url: null, startedAt, heartbeatAt: now, alive: true }],
        shards: [],
      } satisfies z.infer<typeof ClusterSchema>;
      return;
    }
    const view = await cluster.leases.view();
    ctx.body = {
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
      })),
      shards: view.shards.map((shard) => ({
        shard: shard.shard,
        node: shard.node,
        epoch: shard.epoch,
        expiresAt: shard.expiresAt.toISOString(),
        live: shard.live,
      })),
    } satisfies z.infer<typeof ClusterSchema>;
  });
}

/** Whether this node can take writes: on PostgreSQL, while it holds a lease (its database answers). */
export function clusterReady(cluster: HubClusterNode | null): boolean {
  return cluster === null || cluster.leases.ownedShards().length > 0;
}

/** Per-node cluster metrics: leases held and changed, and commits the database refused. */
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
}
