import type { Logger, Metrics } from '@shelfsync/edge';
import { PgHubDocuments, ShardLeases } from '@shelfsync/hub-pg';
import type { StorageAdapter } from '@shelfsync/storage';
import { PgStorageAdapter, WriterFenceHeld } from '@shelfsync/storage-pg';
import { SqlJsStorageAdapter } from '@shelfsync/storage-sqljs';
import { HubStorage, type HubDocumentStore, type ResidencyOptions } from '@shelfsync/sync';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { HubConfig } from './config.js';

/** The hub's records in PostgreSQL live under this namespace, written by this exclusive writer. */
const HUB_NAMESPACE = 'hub';
const HUB_WRITER = 'hub';

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

/** A hub node on PostgreSQL: its name, its shard leases and its documents fenced by them. */
export interface HubClusterNode {
  readonly node: string;
  readonly leases: ShardLeases;
  readonly documents: PgHubDocuments;
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
 * (`PgHubDocuments`), the other records in a storage namespace. On PostgreSQL
 * the hub is still the database's one writer (`WriterFence`): a second hub on
 * the same database is refused at start, and one that lost its lock and was
 * taken over has every later write refused inside its transaction, so its
 * storage fails and it stops serving, as after a failed disk write.
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
  let leases: ShardLeases | undefined;
  try {
    // The documents hear of each lease lost, and are opened after the leases that fence them.
    const held: { documents?: PgHubDocuments } = {};
    const opened = await ShardLeases.open(config.database, {
      node,
      ...(config.port === 0 ? {} : { url: `http://${config.host}:${config.port}` }),
      onChange: ({ shard, owned, epoch }) => {
        log.info({ shard, owned, epoch }, owned ? 'shard lease taken' : 'shard lease lost');
        if (!owned) held.documents?.leaseLost(shard);
      },
      onError: (error) => log.warn({ error: brief(error), database }, 'a shard lease round failed'),
    });
    leases = opened;
    const documents = await PgHubDocuments.open(config.database, {
      namespace: HUB_NAMESPACE,
      node,
      residency,
      ownership: opened,
      ...(adapter.fence === null ? {} : { fence: adapter.fence }),
      onError: (error) => log.warn({ error: brief(error), database }, 'the change feed recovered from a failure'),
    });
    held.documents = documents;
    log.info({ database, node, epoch: documents.epoch, shards: opened.ownedShards().length }, 'documents opened');
    const close = closing(documents, adapter);
    return {
      documents,
      adapter,
      cluster: { node, leases: opened, documents },
      close: async () => {
        await close();
        // Last: the shards are handed over once nothing of this node is in flight.
        await opened.close();
      },
    };
  } catch (error) {
    await leases?.close();
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
  try {
    const adapter = await PgStorageAdapter.open(url, {
      namespace: HUB_NAMESPACE,
      exclusiveWriter: HUB_WRITER,
      onConnectionError: (error) => log.warn({ error: brief(error), database }, 'a database connection failed'),
      onWriterLockLost: (error) =>
        log.error({ error: brief(error), database }, 'the hub lost its database lock: another hub may take over'),
    });
    log.info({ database, migrated: adapter.migration.applied, epoch: adapter.fence?.epoch }, 'storage opened');
    return adapter;
  } catch (error) {
    if (error instanceof WriterFenceHeld) {
      throw new Error(
        `another hub holds the database ${database}: several hubs on one database need the cluster, which is not built yet; stop the other hub or give this one its own database`,
        { cause: error },
      );
    }
    throw error;
  }
}
