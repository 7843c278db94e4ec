import type { Logger } from '@shelfsync/edge';
import { StoreSessions } from '@shelfsync/hub-pg';
import { CloseCode, StoreIdSchema, type StoreId } from '@shelfsync/protocol';
import type { HubSync } from '@shelfsync/sync';
import type { HubConfig } from './config.js';
import type { HubClusterNode } from './hub-records.js';

/** One live session per store across the hub nodes: what the upgrade route tells of each session. */
export interface StoreSessionClaims {
  /** Whether this node takes store sessions now: while it holds a shard lease (its database answers). */
  admits(): boolean;
  /** A session of `storeId` was admitted here; `ended` is to be called when its socket closes. */
  admitted(storeId: StoreId): () => void;
  close(): Promise<void>;
}

/**
 * On a cluster node, claims each store whose session it admits, and closes its
 * own session of a store another node admitted since (4409, as one hub closes
 * a store's earlier connection). Null for the embedded hub, where HubSync
 * alone keeps one session per store.
 *
 * A node that holds no shard lease (cut off from its database, or leaving)
 * can acknowledge nothing: it closes its store sessions with 1013 and turns
 * new ones away the same way, so each store moves to the next node of its list.
 */
export async function openStoreSessionClaims(
  config: HubConfig,
  cluster: HubClusterNode | null,
  sync: HubSync,
  log: Logger,
): Promise<StoreSessionClaims | null> {
  if (cluster === null || config.database === undefined) return null;
  const sessions = await StoreSessions.open(config.database, {
    node: cluster.node,
    replaced: (storeId) => {
      const store = StoreIdSchema.safeParse(storeId);
      if (store.success && sync.closeStore(store.data, CloseCode.Replaced)) {
        log.info({ storeId }, 'store session closed: the store connected to another hub node since');
      }
    },
    live: () => sync.storeLinks().flatMap((link) => (link.connected ? [link.storeId] : [])),
    onError: (error) => log.warn({ err: error.message }, 'store session claims recovered from a failure'),
  });
  const admits = (): boolean => cluster.leases.ownedShards().length > 0;
  const stopWatching = cluster.onLeaseChange(({ owned }) => {
    if (owned || admits()) return;
    let closed = 0;
    for (const link of sync.storeLinks()) {
      if (link.connected && sync.closeStore(link.storeId, CloseCode.TryAgainLater)) closed++;
    }
    if (closed > 0) log.warn({ closed }, 'store sessions closed: this node holds no shard lease');
  });
  return {
    admits,
    admitted(storeId) {
      const claimed = sessions.claim(storeId).catch((error: unknown) => {
        log.warn({ err: error, storeId }, 'claiming a store session failed');
        return undefined;
      });
      // Only this session's claim is released: a later session of the store here keeps its own.
      return () => void claimed.then((claim) => claim !== undefined && sessions.released(storeId, claim));
    },
    close: async () => {
      stopWatching();
      await sessions.close();
    },
  };
}
