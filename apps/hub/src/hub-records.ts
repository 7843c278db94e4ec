import type { Logger, Metrics } from '@shelfsync/edge';
import type { StorageAdapter } from '@shelfsync/storage';
import { PgStorageAdapter, WriterFenceHeld } from '@shelfsync/storage-pg';
import { SqlJsStorageAdapter } from '@shelfsync/storage-sqljs';
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

/**
 * Where the hub keeps every durable record: `<data>/hub.sqlite` (sql.js and its
 * journal, the default), or the PostgreSQL database `--database` names. On
 * PostgreSQL the hub is the database's one writer (`WriterFence`): a second hub
 * on the same database is refused at start, and one that lost its lock and was
 * taken over has every later write refused inside its transaction, so its
 * storage fails and it stops serving, as after a failed disk write.
 */
export async function openHubRecords(config: HubConfig, metrics: Metrics, log: Logger): Promise<StorageAdapter> {
  if (config.database === undefined) {
    const file = join(config.dataDir, 'hub.sqlite');
    const adapter = await SqlJsStorageAdapter.open({ path: file, onFsync: metrics.fsyncObserver() });
    log.info({ ...adapter.recovery, file }, 'storage opened');
    return adapter;
  }
  const database = databaseLabel(config.database);
  try {
    const adapter = await PgStorageAdapter.open(config.database, {
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
