import { existsSync, readFileSync, statSync } from 'node:fs';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import {
  findPostgresBinDir,
  skipPgTests,
  startPostgresServer,
  type PostgresServer,
} from '../src/testing/postgres-server.js';

const started: PostgresServer[] = [];
afterEach(async () => {
  for (const server of started.splice(0)) await server.stop();
});
const start = async (...args: Parameters<typeof startPostgresServer>): Promise<PostgresServer> => {
  const server = await startPostgresServer(...args);
  started.push(server);
  return server;
};

async function query(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<Record<string, unknown>>(sql)).rows;
  } finally {
    await client.end();
  }
}

const isRunning = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/\) [ZX] /.test(readStat(pid));
const readStat = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return ') X ';
  }
};

describe('finding PostgreSQL', () => {
  it('says how to install it, or how to skip, when it is not there', () => {
    expect(() => findPostgresBinDir(['/nonexistent/bin'])).toThrow(/apt-get install -y postgresql/);
    expect(() => findPostgresBinDir([])).toThrow(/SHELFSYNC_SKIP_PG_TESTS=1/);
  });
});

describe.skipIf(skipPgTests())('the PostgreSQL test server', () => {
  it('runs initdb and the server as the postgres user in a temporary directory, and stop removes both', async () => {
    const server = await start({ database: 'harness' });
    expect(server.url).toBe(`postgres://postgres@127.0.0.1:${server.port}/harness`);
    const [row] = await query(server.url, 'SELECT current_database() AS db, pg_backend_pid() AS backend');
    expect(row?.['db']).toBe('harness');
    expect(isRunning(server.pid)).toBe(true);
    if (process.getuid?.() === 0) expect(statSync(`/proc/${server.pid}`).uid).not.toBe(0);
    expect(readFileSync(`${server.dataDir}/postmaster.pid`, 'utf8').split('\n')[0]).toBe(String(server.pid));
    const { pid, dataDir } = server;
    await server.stop();
    await server.stop(); // harmless twice
    expect(isRunning(pid)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('keeps committed data across a restart and across kill -9', async () => {
    const server = await start();
    await query(server.url, 'CREATE TABLE t (n int); INSERT INTO t VALUES (1)');
    const first = server.pid;
    await server.restart();
    expect(server.pid).not.toBe(first);
    expect(isRunning(first)).toBe(false);
    await query(server.url, 'INSERT INTO t VALUES (2)');
    const second = server.pid;
    await server.kill9();
    expect(isRunning(second)).toBe(false);
    expect(() => server.pid).toThrow('not running');
    await server.start();
    expect(await query(server.url, 'SELECT n FROM t ORDER BY n')).toEqual([{ n: 1 }, { n: 2 }]);
    expect(server.logTail()).toMatch(/not properly shut down|automatic recovery/);
  });

  it('creates further databases on request', async () => {
    const server = await start();
    const url = await server.createDatabase('second_db');
    expect(url).toBe(server.urlFor('second_db'));
    expect(await query(url, 'SELECT current_database() AS db')).toEqual([{ db: 'second_db' }]);
    await expect(server.createDatabase('bad name')).rejects.toThrow(TypeError);
  });

  it('reports a server that will not start with the tail of its log', async () => {
    const error: unknown = await startPostgresServer({ maxConnections: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/exited while starting[\s\S]*max_connections/);
  });
});
