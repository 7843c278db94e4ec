import {
  StorageWriteError,
  type StorageAdapter,
  type StorageChunk,
  type StorageKey,
  type StorageWrite,
} from '@shelfsync/storage';
import type pg from 'pg';
import { decodeKey, encodeKey, prefixRange } from './key-codec.js';
import { migrate, type MigrationReport } from './migrations.js';
import { assertNamespace } from './names.js';
import { bytesColumn, type Row } from './rows.js';
import { STORAGE_TABLE, storageMigrations } from './schema.js';
import { inTransaction, TransactionError } from './transaction.js';
import { WriterFence } from './writer-fence.js';
import { HeldPool } from './held-pool.js';
import { applyWrites, isEmptyWrites, prepareWrites } from './write-batch.js';

export interface PgStorageOptions {
  /** Separates this adapter's keys from other adapters' on the same database. */
  readonly namespace: string;
  /** Connections of the pool opened from a connection string; default 4. */
  readonly maxConnections?: number;
  /**
   * Told about errors of idle pooled connections (a server restart ends them).
   * They are handled either way: the pool drops the connection and opens a new
   * one for the next call.
   */
  readonly onConnectionError?: (error: Error) => void;
  /**
   * Writes as this exclusive writer (`WriterFence`): open fails with
   * WriterFenceHeld while another process holds it, and every write checks in
   * its transaction that no process took over since. Takes one pooled
   * connection for as long as the adapter is open.
   */
  readonly exclusiveWriter?: string;
  /** Told when the exclusive writer's lock connection fails: another process may then take over. */
  readonly onWriterLockLost?: (error: Error) => void;
}

/**
 * A StorageAdapter on PostgreSQL. Keys live in one shared table under this
 * adapter's namespace (schema.ts, created and migrated on open). Calls run one
 * at a time in call order; each write is a transaction and resolves once its
 * COMMIT is acknowledged, which with PostgreSQL's default synchronous_commit
 * means it is on disk: flush only waits for earlier calls.
 */
export class PgStorageAdapter implements StorageAdapter {
  private closed = false;
  private closing: Promise<void> | null = null;
  /** The last call's completion, never rejected: the next call starts after it. */
  private tail: Promise<unknown> = Promise.resolve();

  private readonly pool: pg.Pool;

  private constructor(
    private readonly held: HeldPool,
    private readonly namespace: string,
    /** What opening migrated. */
    readonly migration: MigrationReport,
    /** The exclusive writer this adapter holds, if it was opened as one. */
    readonly fence: WriterFence | null,
  ) {
    this.pool = held.pool;
  }

  /**
   * Opens an adapter on `database`: a pool the caller keeps (and ends after
   * closing the adapter), or a connection string for a pool the adapter owns.
   */
  static async open(database: pg.Pool | string, options: PgStorageOptions): Promise<PgStorageAdapter> {
    assertNamespace(options.namespace);
    const held = HeldPool.hold(database, options.maxConnections ?? 4, (error) => options.onConnectionError?.(error));
    const pool = held.pool;
    try {
      const migration = await migrate(pool, storageMigrations);
      const fence =
        options.exclusiveWriter === undefined
          ? null
          : await WriterFence.acquire(pool, options.exclusiveWriter, options.onWriterLockLost);
      return new PgStorageAdapter(held, options.namespace, migration, fence);
    } catch (error) {
      await held.release();
      throw error;
    }
  }

  load(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.read(
      () => [encodeKey(key)],
      async ([encoded]) => {
        const { rows } = await this.pool.query<Row>(
          `SELECT value FROM ${STORAGE_TABLE} WHERE namespace = $1 AND key = $2`,
          [this.namespace, encoded],
        );
        const [row] = rows;
        return row === undefined ? undefined : bytesColumn(row, 'value');
      },
    );
  }

  save(key: StorageKey, data: Uint8Array): Promise<void> {
    return this.writeBatch([{ key, data }]);
  }

  remove(key: StorageKey): Promise<void> {
    return this.writeBatch([{ key, remove: true }]);
  }

  loadRange(prefix: StorageKey): Promise<StorageChunk[]> {
    return this.read(
      () => prefixRange(prefix),
      async (range) =>
        (await this.range('key, value', range)).map((row) => ({
          key: decodeKey(bytesColumn(row, 'key')),
          data: bytesColumn(row, 'value'),
        })),
    );
  }

  keys(prefix: StorageKey): Promise<StorageKey[]> {
    return this.read(
      () => prefixRange(prefix),
      async (range) => (await this.range('key', range)).map((row) => decodeKey(bytesColumn(row, 'key'))),
    );
  }

  removeRange(prefix: StorageKey): Promise<void> {
    return this.write(
      () => prefixRange(prefix),
      async (client, { low, high }) => {
        await client.query(`DELETE FROM ${STORAGE_TABLE} WHERE namespace = $1 AND key >= $2 AND key < $3`, [
          this.namespace,
          low,
          high,
        ]);
      },
    );
  }

  writeBatch(writes: readonly StorageWrite[]): Promise<void> {
    return this.write(
      () => prepareWrites(writes),
      (client, prepared) => applyWrites(client, this.namespace, prepared),
      isEmptyWrites,
    );
  }

  /** Every write resolves once committed: a flush only waits for the calls before it. */
  flush(): Promise<void> {
    return this.enqueue(() => Promise.resolve());
  }

  /** Waits for the calls made before it; concurrent and repeated calls share one shutdown. */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= this.tail.then(async () => {
      this.fence?.release();
      await this.held.release();
    });
    return this.closing;
  }

  private range(columns: string, { low, high }: { low: Buffer; high: Buffer }): Promise<Row[]> {
    return this.pool
      .query<Row>(
        `SELECT ${columns} FROM ${STORAGE_TABLE} WHERE namespace = $1 AND key >= $2 AND key < $3 ORDER BY key`,
        [this.namespace, low, high],
      )
      .then((result) => result.rows);
  }

  /** `prepare` runs at call time (validation, copies of the caller's bytes); `body` in call order. */
  private read<P, T>(prepare: () => P, body: (prepared: P) => Promise<T>): Promise<T> {
    return this.prepared(prepare, (prepared) => this.enqueue(() => body(prepared)));
  }

  /** A write in one transaction; a failure says whether it may have been applied. */
  private write<P>(
    prepare: () => P,
    body: (client: pg.PoolClient, prepared: P) => Promise<void>,
    isEmpty: (prepared: P) => boolean = () => false,
  ): Promise<void> {
    return this.prepared(prepare, (prepared) =>
      this.enqueue(async () => {
        if (isEmpty(prepared)) return;
        try {
          await inTransaction(this.pool, async (client) => {
            await this.fence?.check(client);
            await body(client, prepared);
          });
        } catch (error) {
          if (!(error instanceof TransactionError)) throw error;
          throw new StorageWriteError(error.message, error.committed, { cause: error });
        }
      }),
    );
  }

  private prepared<P, T>(prepare: () => P, then: (prepared: P) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('storage adapter is closed'));
    let prepared: P;
    try {
      prepared = prepare();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return then(prepared);
  }

  private enqueue<T>(body: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('storage adapter is closed'));
    const run = this.tail.then(body);
    this.tail = run.catch(() => undefined);
    return run;
  }
}
