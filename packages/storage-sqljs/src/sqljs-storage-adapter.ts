import {
  assertKey,
  runSync,
  StorageWriteError,
  type StorageAdapter,
  type StorageChunk,
  type StorageKey,
  type StorageWrite,
} from '@shelfsync/storage';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { Journal, readJournalFile } from './journal.js';
import initSqlJs, { type Database, type SqlJsStatic, type SqlValue, type Statement } from 'sql.js';

export interface SqlJsStorageOptions {
  /** The database file; omit for a database that lives in memory only. */
  readonly path?: string;
  /**
   * Journal every write batch to `<path>.journal` and fsync it before the write
   * resolves (group commit). Default true with a path: a resolved write survives
   * a crash. Without it, writes reach the disk only at the next snapshot.
   */
  readonly journal?: boolean;
  /** How often a snapshot of the database is written, in ms; 0 disables the timer. Default 1000, or 30000 with a journal. */
  readonly flushIntervalMs?: number;
  /** Called with the seconds each journal write+fsync took and how many batches it carried. */
  readonly onFsync?: (seconds: number, batches: number) => void;
}

/** What opening found and repaired, for the caller's log. */
export interface RecoveryReport {
  /** Journal batches replayed on top of the snapshot. */
  readonly replayedBatches: number;
  /** Bytes of a torn last journal record that were cut off. */
  readonly tornBytes: number;
}

let sqlJs: Promise<SqlJsStatic> | null = null;

// Segments are printable ASCII, so U+0000 separates them unambiguously and
// SQLite's BINARY collation orders joined keys segment by segment.
const SEP = '\u0000';
const encodeKey = (key: StorageKey): string => key.join(SEP);
const decodeKey = (value: string): StorageKey => value.split(SEP);

/**
 * A StorageAdapter on sql.js (SQLite compiled to WebAssembly: no native build).
 * sql.js keeps the database in memory; `flush` writes it to the file atomically
 * (temporary file, fsync, rename, fsync of the directory), and a timer flushes
 * every `flushIntervalMs`. What was written after the last flush is lost on a
 * crash; the journal (durability work) closes that gap.
 */
export class SqlJsStorageAdapter implements StorageAdapter {
  private dirty = false;
  /** Snapshots taken (exports of the database): a batch applied before one may be on disk through it. */
  private exports = 0;
  /** Set as soon as close is called: from then on every call but close rejects. */
  private closed = false;
  private closing: Promise<void> | null = null;
  private flushing: Promise<void> | null = null;
  private readonly timer: ReturnType<typeof setInterval> | null;
  // The hot statements are prepared once (sql.js 1.16 exports through SQLite's
  // backup API, which leaves prepared statements intact).
  private readonly upsert: Statement;
  private readonly removeOne: Statement;
  private readonly selectOne: Statement;

  /** What opening found and repaired. */
  recovery: RecoveryReport = { replayedBatches: 0, tornBytes: 0 };
  private journal: Journal | null = null;

  private constructor(
    private readonly db: Database,
    private readonly path: string | undefined,
    flushIntervalMs: number,
  ) {
    // The database lives in wasm memory and reaches disk only through flush, so a
    // rollback journal file in sql.js' in-memory file system buys nothing and costs
    // a file creation per transaction: keep the journal in memory instead.
    this.db.run('PRAGMA journal_mode = MEMORY');
    // An ordinary rowid table, not WITHOUT ROWID: there a row over ~1 KB spills into
    // overflow pages and the exported file grows to several times the data.
    this.db.run('CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)');
    this.upsert = this.db.prepare('INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)');
    this.removeOne = this.db.prepare('DELETE FROM kv WHERE key = ?');
    this.selectOne = this.db.prepare('SELECT value FROM kv WHERE key = ?');
    if (path !== undefined && flushIntervalMs > 0) {
      this.timer = setInterval(() => {
        this.flush().catch(() => {
          // The next flush, or close, reports the error.
        });
      }, flushIntervalMs);
      this.timer.unref();
    } else {
      this.timer = null;
    }
  }

  static async open(options: SqlJsStorageOptions = {}): Promise<SqlJsStorageAdapter> {
    sqlJs ??= initSqlJs();
    const SQL = await sqlJs;
    const { path } = options;
    const journaled = path !== undefined && options.journal !== false;
    const flushIntervalMs = options.flushIntervalMs ?? (journaled ? 30_000 : 1000);
    let db: Database;
    if (path !== undefined && existsSync(path)) {
      try {
        const file = readFileSync(path);
        // SQLite reads an empty file as an empty database; a flush never writes
        // one (the kv table takes a page), so an empty file means lost data.
        if (file.byteLength === 0) throw new Error('the file is empty');
        db = new SQL.Database(file);
        db.exec('SELECT count(*) FROM sqlite_master');
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`cannot open ${path}: not a readable shelfsync database (${reason})`, { cause: error });
      }
    } else {
      if (path !== undefined) mkdirSync(dirname(path), { recursive: true });
      db = new SQL.Database();
    }
    const adapter = new SqlJsStorageAdapter(db, path, flushIntervalMs);
    if (journaled) {
      await adapter.recover(path);
      const onFsync = options.onFsync;
      if (onFsync !== undefined && adapter.journal !== null) adapter.journal.onSync = onFsync;
    }
    return adapter;
  }

  /**
   * Replays the journal left by the last run (a retired one first, if a crash
   * interrupted a snapshot) on top of the snapshot, writes a fresh snapshot, and
   * starts an empty journal. Replaying a write the snapshot already holds is
   * harmless: the batches are replayed in order, and each sets or removes keys.
   */
  private async recover(path: string): Promise<void> {
    const retired = readJournalFile(retiredJournalPath(path));
    const { journal, batches, tornBytes } = await Journal.open(journalPath(path));
    this.journal = journal;
    const replay = [...retired.batches, ...batches];
    for (const batch of replay) this.apply(batch);
    this.recovery = { replayedBatches: replay.length, tornBytes: tornBytes + retired.tornBytes };
    if (replay.length > 0 || tornBytes > 0) await this.flushNow();
  }

  load(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.run(() => {
      assertKey(key);
      try {
        this.selectOne.bind([encodeKey(key)]);
        if (!this.selectOne.step()) return undefined;
        const value = this.selectOne.get()[0];
        return value instanceof Uint8Array ? value.slice() : undefined;
      } finally {
        this.selectOne.reset();
      }
    });
  }

  save(key: StorageKey, data: Uint8Array): Promise<void> {
    return this.writeBatch([{ key, data }]);
  }

  remove(key: StorageKey): Promise<void> {
    return this.writeBatch([{ key, remove: true }]);
  }

  loadRange(prefix: StorageKey): Promise<StorageChunk[]> {
    return this.run(() =>
      this.range('key, value', prefix).map((row) => ({
        key: decodeKey(String(row[0])),
        data: (row[1] as Uint8Array).slice(),
      })),
    );
  }

  keys(prefix: StorageKey): Promise<StorageKey[]> {
    return this.run(() => this.range('key', prefix).map((row) => decodeKey(String(row[0]))));
  }

  removeRange(prefix: StorageKey): Promise<void> {
    return this.run(() => this.range('key', prefix).map((row) => decodeKey(String(row[0])))).then((keys) =>
      this.writeBatch(keys.map((key) => ({ key, remove: true as const }))),
    );
  }

  writeBatch(writes: readonly StorageWrite[]): Promise<void> {
    let exportsBefore = 0;
    const applied = this.run(() => {
      for (const write of writes) assertKey(write.key);
      this.apply(writes);
      exportsBefore = this.exports;
    });
    // Resolves once the batch is on disk: a caller acknowledges only after that.
    // If the journal fails it refuses every later write, so the process stops
    // acknowledging; a restart recovers what is on disk.
    const journal = this.journal;
    if (journal === null) return applied;
    return applied
      .then(() => journal.append(writes))
      .catch((error: unknown) => {
        // A snapshot taken while the batch waited for the journal holds it: it may be on disk after all.
        if (error instanceof StorageWriteError && error.recorded === 'no' && this.exports !== exportsBefore) {
          throw new StorageWriteError(`${error.message}; a snapshot taken meanwhile may hold it`, 'unknown', {
            cause: error,
          });
        }
        throw error;
      });
  }

  private apply(writes: readonly StorageWrite[]): void {
    // One statement is atomic by itself; several share a transaction.
    const several = writes.length > 1;
    if (several) this.db.run('BEGIN');
    try {
      for (const write of writes) {
        const statement = 'remove' in write ? this.removeOne : this.upsert;
        statement.run('remove' in write ? [encodeKey(write.key)] : [encodeKey(write.key), write.data]);
      }
      if (several) this.db.run('COMMIT');
    } catch (error) {
      if (several) this.db.run('ROLLBACK');
      throw error;
    }
    this.dirty = true;
  }

  /** Writes the database to its file if anything changed; concurrent calls share one write. */
  flush(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('storage adapter is closed'));
    return this.flushNow();
  }

  /** Concurrent and repeated calls share one shutdown. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    // Refuse new calls before the final flush, not after it: in call order they
    // come after close, and one accepted meanwhile would be acknowledged and then
    // lost when the database closes (without a journal).
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    try {
      // Nothing to save after a journal failure (see flushNow): close what is open.
      if ((this.journal?.failed ?? null) === null) await this.flushNow();
    } catch (error) {
      // The database stays open and dirty, so calling close again retries the flush.
      this.closing = null;
      throw error;
    }
    await this.journal?.close();
    for (const statement of [this.upsert, this.removeOne, this.selectOne]) statement.free();
    this.db.close();
  }

  private flushNow(): Promise<void> {
    if (this.flushing !== null) return this.flushing.then(() => this.flushNow());
    // After a failed journal write the database in memory holds writes whose
    // callers were told they failed: a snapshot would make them durable after
    // all. The disk (snapshot plus journal) stays the truth until a restart.
    const failed = this.journal?.failed ?? null;
    if (failed !== null) return Promise.reject(failed);
    if (!this.dirty || this.path === undefined) return Promise.resolve();
    const path = this.path;
    const journal = this.journal;
    const snapshot = async (): Promise<void> => {
      try {
        // With a journal: retire it first, so every batch it holds is in the
        // snapshot taken next; it is deleted only once that snapshot is durable.
        // A retired journal still there means the last snapshot failed: it holds
        // acknowledged batches that are in no snapshot, so it is kept, not
        // replaced; the current journal stays too (replaying both over the new
        // snapshot, in order, is harmless).
        const retired = retiredJournalPath(path);
        if (journal !== null && !existsSync(retired)) await journal.rotate(retired);
        // The journal may have failed while the rotation waited for its last write.
        const failed = journal?.failed ?? null;
        if (failed !== null) throw failed;
        this.dirty = false;
        this.exports++;
        writeAtomically(path, this.db.export());
        if (journal !== null) rmSync(retired, { force: true });
      } catch (error) {
        this.dirty = true;
        throw error;
      }
    };
    // Reset in a later tick: without a journal the snapshot runs synchronously,
    // and clearing `flushing` inside it would happen before it is even assigned.
    this.flushing = snapshot().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private range(columns: string, prefix: StorageKey): SqlValue[][] {
    assertKey(prefix);
    const p = encodeKey(prefix);
    return this.select(`SELECT ${columns} FROM kv WHERE key = ? OR (key >= ? AND key < ?) ORDER BY key`, [
      p,
      p + SEP,
      p + '\u0001',
    ]);
  }

  private select(sql: string, params: SqlValue[]): SqlValue[][] {
    // Statements are prepared per call and freed at once: nothing prepared outlives an export.
    const statement = this.db.prepare(sql, params);
    try {
      const rows: SqlValue[][] = [];
      while (statement.step()) rows.push(statement.get());
      return rows;
    } finally {
      statement.free();
    }
  }

  private run<T>(body: () => T): Promise<T> {
    return runSync(this.closed, body);
  }
}

const journalPath = (path: string): string => `${path}.journal`;
const retiredJournalPath = (path: string): string => `${path}.journal.retired`;

/** Temporary file, fsync, rename over the target, fsync of the directory: a reader sees the old file or the new one. */
function writeAtomically(path: string, data: Uint8Array): void {
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, 'w');
  try {
    let offset = 0;
    while (offset < data.byteLength) offset += writeSync(fd, data, offset, data.byteLength - offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
