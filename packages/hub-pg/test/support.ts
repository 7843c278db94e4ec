import type { Sku } from '@shelfsync/protocol';
import { CHANGE_HEADS_TABLE, CHANGE_LOG_TABLE } from '@shelfsync/storage-pg';
import { startPostgresServer, type PostgresServer } from '@shelfsync/storage-pg/testing';
import pg from 'pg';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { PgChangeLog, type PgChangeLogOptions } from '../src/index.js';

/**
 * A test file's PostgreSQL: one server for the file, started before its first
 * test and stopped after its last, a fresh database per test (numbers and epochs
 * start from nothing), and `cleanUp` run after each test. Call inside the file's
 * describe.
 */
export function serverPerFile(prefix: string, cleanUp: () => Promise<void>) {
  let running: PostgresServer | undefined;
  let databases = 0;
  beforeAll(async () => {
    running = await startPostgresServer();
  });
  afterEach(cleanUp);
  afterAll(async () => {
    await running?.stop();
  });
  const server = (): PostgresServer => {
    if (running === undefined) throw new Error('the PostgreSQL server has not started');
    return running;
  };
  return { server, fresh: (): Promise<string> => server().createDatabase(`${prefix}_${++databases}`) };
}

/** `serverPerFile`, with every change log and pool a test opened closed after it. */
export function changeLogFixture(prefix: string) {
  const opened: PgChangeLog[] = [];
  const pools: pg.Pool[] = [];
  const { server, fresh } = serverPerFile(prefix, async () => {
    for (const log of opened.splice(0)) await log.close();
    for (const created of pools.splice(0)) await created.end();
  });
  return {
    server,
    fresh,
    open: async (database: pg.Pool | string, options: Partial<PgChangeLogOptions> = {}): Promise<PgChangeLog> => {
      const log = await PgChangeLog.open(database, { namespace: 'hub', ...options });
      opened.push(log);
      return log;
    },
    pool: (url: string, max = 4): pg.Pool => {
      const created = poolOn(url, max);
      pools.push(created);
      return created;
    },
  };
}

export const sku = (name: string): Sku => name as Sku;

export const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

/** The rejection of `promise`, or an Error saying there was none. */
export const failure = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => new Error('expected a rejection'),
    (error: unknown) => error,
  );

/** Waits for `condition` (checked every 10 ms), never for a fixed time. */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface Heard {
  readonly seq: number;
  readonly sku: Sku;
  readonly update: number[];
}

/** Everything `log` announces from now on, in the order it does. */
export function record(log: PgChangeLog): Heard[] {
  const heard: Heard[] = [];
  log.onCommit((sku, change, update) => heard.push({ seq: change.seq, sku, update: [...update] }));
  return heard;
}

export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A pool whose dropped connections are expected, not fatal. */
export function poolOn(url: string, max = 4): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Commits a change the way a commit does, but sends no notification: what a
 * follower sees when a notification is lost.
 */
export async function commitSilently(pool: pg.Pool, log: string, name: string, update: Uint8Array): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ head: string }>(
      `UPDATE ${CHANGE_HEADS_TABLE} SET head = head + 1 WHERE log = $1 RETURNING head`,
      [log],
    );
    const seq = Number(rows[0]?.head);
    await client.query(`INSERT INTO ${CHANGE_LOG_TABLE} (log, seq, sku, at, update) VALUES ($1, $2, $3, 0, $4)`, [
      log,
      seq,
      name,
      Buffer.from(update),
    ]);
    await client.query('COMMIT');
    return seq;
  } finally {
    client.release();
  }
}
