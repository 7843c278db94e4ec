import {
  assertKey,
  runSync,
  type StorageAdapter,
  type StorageChunk,
  type StorageKey,
  type StorageWrite,
} from '@shelfsync/storage';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import initSqlJs, { type Database, type SqlJsStatic, type SqlValue, type Statement } from 'sql.js';

export interface SqlJsStorageOptions {
  /** The database file; omit for a database that lives in memory only. */
  readonly path?: string;
  /** How often unsaved changes are written to the file, in ms; 0 disables the timer. Default 1000. */
  readonly flushIntervalMs?: number;
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
  private closed = false;
  private flushing: Promise<void> | null = null;
  private readonly timer: ReturnType<typeof setInterval> | null;
  // The hot statements are prepared once (sql.js 1.16 exports through SQLite's
  // backup API, which leaves prepared statements intact).
  private readonly upsert: Statement;
  private readonly removeOne: Statement;
  private readonly selectOne: Statement;

  private constructor(
    private readonly db: Database,
    private readonly path: string | undefined,
    flushIntervalMs: number,
  ) {
    // The database lives in wasm memory and reaches disk only through flush, so a
    // rollback journal file in sql.js' in-memory file system buys nothing and costs
    // a file creation per transaction: keep the journal in memory instead.
    this.db.run('PRAGMA journal_mode = MEMORY');
    this.db.run('CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID');
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
    const { path, flushIntervalMs = 1000 } = options;
    let db: Database;
    if (path !== undefined && existsSync(path)) {
      try {
        db = new SQL.Database(readFileSync(path));
        db.exec('SELECT count(*) FROM sqlite_master');
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`cannot open ${path}: not a readable shelfsync database (${reason})`, { cause: error });
      }
    } else {
      if (path !== undefined) mkdirSync(dirname(path), { recursive: true });
      db = new SQL.Database();
    }
    return new SqlJsStorageAdapter(db, path, flushIntervalMs);
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
    return this.run(() => {
      assertKey(prefix);
      const p = encodeKey(prefix);
      this.db.run(`DELETE FROM kv WHERE key = ? OR (key >= ? AND key < ?)`, [p, p + SEP, p + '\u0001']);
      this.dirty = true;
    });
  }

  writeBatch(writes: readonly StorageWrite[]): Promise<void> {
    return this.run(() => {
      for (const write of writes) assertKey(write.key);
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
    });
  }

  /** Writes the database to its file if anything changed; concurrent calls share one write. */
  flush(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('storage adapter is closed'));
    return this.flushNow();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer !== null) clearInterval(this.timer);
    await this.flushNow();
    this.closed = true;
    for (const statement of [this.upsert, this.removeOne, this.selectOne]) statement.free();
    this.db.close();
  }

  private flushNow(): Promise<void> {
    if (this.flushing !== null) return this.flushing.then(() => this.flushNow());
    if (!this.dirty || this.path === undefined) return Promise.resolve();
    const path = this.path;
    this.flushing = Promise.resolve().then(() => {
      this.dirty = false;
      try {
        writeAtomically(path, this.db.export());
      } catch (error) {
        this.dirty = true;
        throw error;
      } finally {
        this.flushing = null;
      }
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
