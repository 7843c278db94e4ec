import type pg from 'pg';
import { assertIdentifier } from './names.js';
import { inTransaction } from './transaction.js';

/** One step of a schema: SQL run once, in a transaction of its own. */
export interface Migration {
  /** Positive integers, strictly increasing through the list. */
  readonly version: number;
  /** Recorded with the version: a database migrated by a different list is refused. */
  readonly name: string;
  /** One or more statements; they commit together with the record of the version. */
  readonly sql: string;
}

export interface MigrateOptions {
  /** The table recording applied versions; default `schema_migrations`. */
  readonly table?: string;
  /** The advisory lock that serializes openers of one database; default MIGRATION_LOCK_KEY. */
  readonly lockKey?: bigint;
}

export interface MigrationReport {
  /** Versions this call applied, in order: empty when the schema was current. */
  readonly applied: readonly number[];
  /** The newest version the database now holds (0 for none). */
  readonly version: number;
}

/** 'shlfsync' in ASCII: an advisory lock key no other component is likely to pick. */
export const MIGRATION_LOCK_KEY = 0x73686c6673796e63n;

/**
 * Brings the database to the newest migration. Each pending migration runs in
 * its own transaction that first takes a transaction-level advisory lock, so
 * nodes that open one database at once take turns: the second finds the
 * version recorded and skips it. A database that holds a version this list
 * does not know (newer code migrated it), or under another name, is refused.
 */
export async function migrate(
  pool: pg.Pool,
  migrations: readonly Migration[],
  options: MigrateOptions = {},
): Promise<MigrationReport> {
  assertMigrations(migrations);
  const table = options.table ?? 'schema_migrations';
  assertIdentifier('migration table', table);
  const lockKey = String(options.lockKey ?? MIGRATION_LOCK_KEY);
  const locked = <T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> =>
    inTransaction(pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey]);
      return body(client);
    });

  // Created under the lock too: two concurrent CREATE TABLE IF NOT EXISTS can both fail one of them.
  const found = await locked(async (client) => {
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${table} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    return recorded(client, table, migrations);
  });

  const applied: number[] = [];
  for (const migration of migrations) {
    if (found.has(migration.version)) continue;
    const ran = await locked(async (client) => {
      // Another opener may have applied it while this one waited for the lock.
      if ((await recorded(client, table, migrations)).has(migration.version)) return false;
      try {
        await client.query(migration.sql);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`migration ${migration.version} (${migration.name}) failed: ${reason}`, { cause: error });
      }
      await client.query(`INSERT INTO ${table} (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
      return true;
    });
    if (ran) applied.push(migration.version);
  }
  return { applied, version: migrations.at(-1)?.version ?? 0 };
}

function assertMigrations(migrations: readonly Migration[]): void {
  let previous = 0;
  for (const { version, name } of migrations) {
    if (!Number.isSafeInteger(version) || version <= previous || version > 2 ** 31 - 1) {
      throw new TypeError(
        `migration versions must be positive integers in increasing order; ${version} follows ${previous}`,
      );
    }
    if (name.trim() === '') throw new TypeError(`migration ${version} needs a name`);
    previous = version;
  }
}

/** The versions the database records, checked against the list this code knows. */
async function recorded(client: pg.PoolClient, table: string, migrations: readonly Migration[]): Promise<Set<number>> {
  const { rows } = await client.query<Record<string, unknown>>(`SELECT version, name FROM ${table} ORDER BY version`);
  const known = new Map(migrations.map((m) => [m.version, m.name]));
  const versions = new Set<number>();
  for (const row of rows) {
    const { version, name } = row;
    if (typeof version !== 'number' || typeof name !== 'string') {
      throw new Error(`${table} holds a malformed row: ${JSON.stringify(row)}`);
    }
    const expected = known.get(version);
    if (expected === undefined) {
      throw new Error(
        `the database holds schema version ${version} (${name}), which this code does not know: it was migrated by a newer release`,
      );
    }
    if (expected !== name) {
      throw new Error(`schema version ${version} in the database is "${name}", but this code calls it "${expected}"`);
    }
    versions.add(version);
  }
  return versions;
}
