import type { Logger, Metrics } from '@shelfsync/edge';
import { OwnerRequests, PgHubDocuments, ShardLeases } from '@shelfsync/hub-pg';
import type { StorageAdapter } from '@shelfsync/storage';
import { PgStorageAdapter } from '@shelfsync/storage-pg';
import { SqlJsStorageAdapter } from '@shelfsync/storage-sqljs';
import { HubStorage, type HubDocumentStore, type ResidencyOptions } from '@shelfsync/sync';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { HubConfig } from './config.js';
import { ForeignStoreUpdates } from './foreign-stores.js';

/** The hub's records in PostgreSQL live under this namespace, shared by every node of the cluster. */
const HUB_NAMESPACE = 'hub';

/**
 * An error of a database connection, for a log line: pg hangs its client (and
 * with it the connection's settings) on some errors, which is kilobytes of noise.
 */
function brief(error: Error): { type: string; message: string; code?: string } {
  const code = (error as { code?: unknown }).code;
  return { type: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) };
}

/** A PostgreSQL URL for logs: host, port and database, never the password. */
export function databaseLabel(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
}

/** A shard this node came to own, or stopped owning. */
export interface LeaseChange {
  readonly shard: number;
  readonly owned: boolean;
  readonly epoch: number;
}

/**
 * A hub node on PostgreSQL: its name, its shard leases, its documents fenced
 * by them, and the requests it hands to (and serves for) the owners of shards.
 */
export interface HubClusterNode {
  readonly node: string;
  readonly leases: ShardLeases;
  readonly documents: PgHubDocuments;
  readonly requests: OwnerRequests;
  /** The store updates other nodes commit, each decoded once for every part that follows them. */
  readonly storeUpdates: ForeignStoreUpdates;
  /** Calls `listener` with each lease change after the documents and requests have heard it; returns the unsubscribe. */
  onLeaseChange(listener: (change: LeaseChange) => void): () => void;
}

/** The hub's durable records: its SKU documents and change log, and every other record (credentials, reservations). */
export interface HubRecords {
  readonly documents: HubDocumentStore;
  readonly adapter: StorageAdapter;
  /** This node of the hubs on the database; null for the embedded hub. */
  readonly cluster: HubClusterNode | null;
  /** Settles the documents, then closes the storage under them. */
  close(): Promise<void>;
}

/**
 * Where the hub keeps every durable record: `<data>/hub.sqlite` (sql.js and its
 * journal, the default, documents included), or the PostgreSQL database
 * `--database` names: the documents on the cluster's change log
 * (`PgHubDocuments`), the other records in a storage namespace. Every hub
 * started on the same database is a node of one cluster: the SKUs' shards are
 * shared out as leases, each node writes as the hub only the SKUs it owns
 * (checked again inside each commit), and hands what it asks of other SKUs
 * to their owner (`OwnerRequests`).
 */
export async function openHubRecords(config: HubConfig, metrics: Metrics, log: Logger): Promise<HubRecords> {
  const residency: ResidencyOptions = { evictIdleAfterMs: config.evictIdleMs, maxResidentDocs: config.maxResidentDocs };
  if (config.database === undefined) {
    const file = join(config.dataDir, 'hub.sqlite');
    const adapter = await SqlJsStorageAdapter.open({ path: file, onFsync: metrics.fsyncObserver() });
    log.info({ ...adapter.recovery, file }, 'storage opened');
    try {
      const documents = await HubStorage.open(adapter, () => randomUUID(), Date.now, residency);
      return { documents, adapter, cluster: null, close: closing(documents, adapter) };
    } catch (error) {
      await adapter.close();
      throw error;
    }
  }
  const adapter = await openPgRecords(config.database, log);
  const database = databaseLabel(config.database);
  const node = `${hostname()}/${randomUUID().slice(0, 8)}`;
  const listeners = new Set<(change: LeaseChange) => void>();
  // Each part hears of each lease change once it is opened; the leases open first, as they fence the rest.
  const held: { documents?: PgHubDocuments; requests?: OwnerRequests } = {};
  const opened: { leases?: ShardLeases; requests?: OwnerRequests } = {};
  try {
    const leases = await ShardLeases.open(config.database, {
      node,
      ...(config.port === 0 ? {} : { url: `http://${config.host}:${config.port}` }),
      onChange: (change) => {
        log.info(change, change.owned ? 'shard lease taken' : 'shard lease lost');
        if (!change.owned) held.documents?.leaseLost(change.shard);
        else held.requests?.shardGained(change.shard);
        for (const listener of listeners) listener(change);
      },
      onError: (error) => log.warn({ error: brief(error), database }, 'a shard lease round failed'),
    });
    opened.leases = leases;
    const documents = await PgHubDocuments.open(config.database, {
      namespace: HUB_NAMESPACE,
      node,
      residency,
      ownership: leases,
      onError: (error) => log.warn({ error: brief(error), database }, 'the change feed recovered from a failure'),
    });
    held.documents = documents;
    const requests = await OwnerRequests.open(config.database, {
      node,
      owns: (shard) => leases.owns(shard),
      onError: (error) => log.warn({ error: brief(error), database }, 'owner requests recovered from a failure'),
    });
    opened.requests = requests;
    held.requests = requests;
    // Shards gained before the requests listened: their pending requests are served now.
    for (const shard of leases.ownedShards()) requests.shardGained(shard);
    log.info({ database, node, epoch: documents.epoch, shards: leases.ownedShards().length }, 'documents opened');
    const close = closing(documents, adapter);
    return {
      documents,
      adapter,
      cluster: {
        node,
        leases,
        documents,
        requests,
        storeUpdates: new ForeignStoreUpdates(documents),
        onLeaseChange(listener) {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
      },
      close: async () => {
        // Requests first: the handlers running finish while their documents are still open.
        await requests.close();
        await close();
        // Last: the shards are handed over once nothing of this node is in flight.
        await leases.close();
      },
    };
  } catch (error) {
    await opened.requests?.close();
    await held.documents?.close();
    await opened.leases?.close();
    await adapter.close();
    throw error;
  }
}

function closing(documents: HubDocumentStore, adapter: StorageAdapter): () => Promise<void> {
  return async () => {
    await documents.close();
    await adapter.close();
  };
}

async function openPgRecords(url: string, log: Logger): Promise<PgStorageAdapter> {
  const database = databaseLabel(url);
  const adapter = await PgStorageAdapter.open(url, {
    namespace: HUB_NAMESPACE,
    onConnectionError: (error) => log.warn({ error: brief(error), database }, 'a database connection failed'),
  });
  log.info({ database, migrated: adapter.migration.applied }, 'storage opened');
  return adapter;
}
