import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { migrate, type Migration } from '../src/index.js';
import { skipPgTests, startPostgresServer, type PostgresServer } from '../src/testing/postgres-server.js';

const steps: Migration[] = [
  { version: 1, name: 'items', sql: 'CREATE TABLE items (id int PRIMARY KEY)' },
  // pg_sleep widens the window in which two openers could both run a step.
  { version: 2, name: 'item names', sql: 'SELECT pg_sleep(0.2); ALTER TABLE items ADD COLUMN name text' },
  { version: 3, name: 'one item', sql: "INSERT INTO items VALUES (1, 'mug')" },
];

describe.skipIf(skipPgTests())('migrate', () => {
  let server: PostgresServer;
  let databases = 0;
  const pools: pg.Pool[] = [];
  beforeAll(async () => {
    server = await startPostgresServer();
  });
  afterAll(async () => {
    await server?.stop();
  });
  afterEach(async () => {
    for (const pool of pools.splice(0)) await pool.end();
  });

  /** A pool on a database of its own, so every test starts from an empty schema. */
  const freshDatabase = async (): Promise<string> => server.createDatabase(`migrations_${++databases}`);
  const poolOn = (url: string): pg.Pool => {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    pool.on('error', () => undefined);
    pools.push(pool);
    return pool;
  };
  const recorded = async (pool: pg.Pool, table = 'schema_migrations'): Promise<Record<string, unknown>[]> =>
    (await pool.query<Record<string, unknown>>(`SELECT version, name, applied_at FROM ${table} ORDER BY version`)).rows;

  it('applies every migration once, in order, and a second run is a no-op', async () => {
    const pool = poolOn(await freshDatabase());
    expect(await migrate(pool, steps)).toEqual({ applied: [1, 2, 3], version: 3 });
    const first = await recorded(pool);
    expect(first.map((row) => [row['version'], row['name']])).toEqual(steps.map((m) => [m.version, m.name]));
    expect(await migrate(pool, steps)).toEqual({ applied: [], version: 3 });
    expect(await recorded(pool)).toEqual(first); // not re-recorded: applied_at unchanged
    expect((await pool.query('SELECT id, name FROM items')).rows).toEqual([{ id: 1, name: 'mug' }]);
  });

  it('serializes concurrent openers: every step runs exactly once', async () => {
    const url = await freshDatabase();
    // Separate pools, as separate hub nodes would have.
    const openers = [poolOn(url), poolOn(url), poolOn(url), poolOn(url)];
    const reports = await Promise.all(openers.map((pool) => migrate(pool, steps)));
    const applied = reports.flatMap((report) => report.applied).sort();
    expect(applied).toEqual([1, 2, 3]);
    expect(reports.every((report) => report.version === 3)).toBe(true);
    expect(await recorded(poolOn(url))).toHaveLength(3);
    expect((await poolOn(url).query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 1 }]);
  });

  it('rolls a failing migration back whole, keeps the ones before it, and goes on once it is fixed', async () => {
    const pool = poolOn(await freshDatabase());
    const broken: Migration = { version: 2, name: 'item names', sql: 'CREATE TABLE half (n int); SELECT 1/0' };
    await expect(migrate(pool, [steps[0] as Migration, broken, steps[2] as Migration])).rejects.toThrow(
      /migration 2 \(item names\) failed: division by zero/,
    );
    expect((await recorded(pool)).map((row) => row['version'])).toEqual([1]);
    expect((await pool.query("SELECT to_regclass('half') AS t")).rows).toEqual([{ t: null }]);
    expect(await migrate(pool, steps)).toEqual({ applied: [2, 3], version: 3 });
  });

  it('refuses a database that a newer release, or a different list, migrated', async () => {
    const pool = poolOn(await freshDatabase());
    await migrate(pool, steps);
    await expect(migrate(pool, steps.slice(0, 2))).rejects.toThrow(/schema version 3 \(one item\).*newer release/);
    const renamed = steps.map((m) => (m.version === 2 ? { ...m, name: 'other' } : m));
    await expect(migrate(pool, renamed)).rejects.toThrow(/version 2 in the database is "item names".*"other"/);
  });

  it('keeps a record table per name, so components can migrate one database apart', async () => {
    const pool = poolOn(await freshDatabase());
    await migrate(pool, steps);
    const other: Migration[] = [{ version: 1, name: 'log', sql: 'CREATE TABLE log (n int)' }];
    expect(await migrate(pool, other, { table: 'log_migrations' })).toEqual({ applied: [1], version: 1 });
    expect((await recorded(pool, 'log_migrations')).map((row) => row['name'])).toEqual(['log']);
  });

  it('refuses a list out of order, a nameless step and an unsafe table name before touching the database', async () => {
    const pool = poolOn(await freshDatabase());
    await expect(migrate(pool, [steps[1] as Migration, steps[0] as Migration])).rejects.toThrow(TypeError);
    await expect(migrate(pool, [{ version: 1, name: ' ', sql: 'SELECT 1' }])).rejects.toThrow(TypeError);
    await expect(migrate(pool, steps, { table: 'x; DROP TABLE y' })).rejects.toThrow(TypeError);
    expect((await pool.query("SELECT to_regclass('schema_migrations') AS t")).rows).toEqual([{ t: null }]);
  });
});
