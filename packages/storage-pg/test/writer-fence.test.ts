import { StorageWriteError } from '@shelfsync/storage';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FencedOut, PgStorageAdapter, WRITER_FENCE_TABLE, WriterFenceHeld } from '../src/index.js';
import { skipPgTests, startPostgresServer, type PostgresServer } from '../src/testing/postgres-server.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

const failure = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => new Error('expected a rejection'),
    (error: unknown) => error,
  );

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.skipIf(skipPgTests())('an exclusive writer on PostgreSQL', () => {
  let server: PostgresServer;
  let admin: pg.Pool;
  let database = 0;
  /** A fresh database per test, so epochs and locks start from nothing. */
  const fresh = async (): Promise<string> => server.createDatabase(`fence_${++database}`);

  beforeAll(async () => {
    server = await startPostgresServer();
    admin = new pg.Pool({ connectionString: server.url, max: 2 });
    admin.on('error', () => undefined);
  });
  afterAll(async () => {
    await admin?.end();
    await server?.stop();
  });

  it('keeps a second process out while the first holds it, and lets it in once the first closes', async () => {
    const url = await fresh();
    const first = await PgStorageAdapter.open(url, { namespace: 'hub', exclusiveWriter: 'hub' });
    expect(first.fence?.epoch).toBe(1);
    const refused = await failure(PgStorageAdapter.open(url, { namespace: 'hub', exclusiveWriter: 'hub' }));
    expect(refused).toBeInstanceOf(WriterFenceHeld);
    // Other writers' names, and plain adapters, are not kept out.
    const other = await PgStorageAdapter.open(url, { namespace: 'other', exclusiveWriter: 'other' });
    await other.close();

    await first.save(['k'], bytes(1));
    await first.close();
    const second = await PgStorageAdapter.open(url, { namespace: 'hub', exclusiveWriter: 'hub' });
    expect(second.fence?.epoch).toBe(2);
    expect(await second.load(['k'])).toEqual(bytes(1));
    await second.close();
  });

  it('refuses every write of a process taken over after it lost its lock, and commits none of them', async () => {
    const url = await fresh();
    const lost: Error[] = [];
    const first = await PgStorageAdapter.open(url, {
      namespace: 'hub',
      exclusiveWriter: 'hub',
      onWriterLockLost: (error) => lost.push(error),
    });
    await first.save(['before'], bytes(1));

    // The server ends the first process's lock session (an operator, a network
    // cut the server noticed): its lock is free, its pool still works.
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    pool.on('error', () => undefined);
    await pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()`,
    );
    await until('the lock loss to be reported', () => Promise.resolve(lost.length > 0));

    const second = await PgStorageAdapter.open(url, { namespace: 'hub', exclusiveWriter: 'hub' });
    expect(second.fence?.epoch).toBe(2);
    const refused = await failure(first.writeBatch([{ key: ['after'], data: bytes(2) }]));
    expect(refused).toBeInstanceOf(StorageWriteError);
    expect((refused as StorageWriteError).recorded).toBe('no');
    expect((refused as StorageWriteError).cause).toBeDefined();
    expect(String((refused as Error).message)).toMatch(/taken over/);
    expect(await second.load(['after'])).toBeUndefined();
    expect(await second.load(['before'])).toEqual(bytes(1));

    await second.save(['after'], bytes(3));
    expect(await second.load(['after'])).toEqual(bytes(3));
    await first.close();
    await second.close();
    await pool.end();
  });

  it('makes a takeover wait for a write that passed its check, so the new writer starts from it', async () => {
    const url = await fresh();
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    pool.on('error', () => undefined);
    const first = await PgStorageAdapter.open(url, { namespace: 'hub', exclusiveWriter: 'hub' });
    // A transaction that passed the fence check (its row share-locked) and has not committed yet.
    const inFlight = await pool.connect();
    await inFlight.query('BEGIN');
    const locked = await inFlight.query(`SELECT epoch FROM ${WRITER_FENCE_TABLE} WHERE name = 'hub' FOR SHARE`);
    expect(locked.rows).toHaveLength(1);

    await first.close(); // frees the advisory lock; the share lock stays with the open transaction
    let raised = false;
    const takeover = PgStorageAdapter.open(url, { namespace: 'hub', exclusiveWriter: 'hub' }).then((adapter) => {
      raised = true;
      return adapter;
    });
    // The raise cannot pass the share lock: nothing but the commit below releases it.
    await until('the takeover to wait on the share lock', async () => {
      const waiting = await pool.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%${WRITER_FENCE_TABLE}%'`,
      );
      return (waiting.rows[0] as { n: number }).n > 0;
    });
    expect(raised).toBe(false);
    await inFlight.query('COMMIT');
    inFlight.release();
    const second = await takeover;
    expect(second.fence?.epoch).toBe(2);
    await second.close();
    await pool.end();
  });

  it('names the writer and the epochs when it refuses', () => {
    const error = new FencedOut('hub', 3, 4);
    expect(error.message).toContain('"hub" epoch 3');
    expect(error.message).toContain('now 4');
  });
});
