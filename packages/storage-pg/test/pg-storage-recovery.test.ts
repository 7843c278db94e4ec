import { StorageWriteError } from '@shelfsync/storage';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgStorageAdapter, STORAGE_TABLE } from '../src/index.js';
import { skipPgTests, startPostgresServer, type PostgresServer } from '../src/testing/postgres-server.js';

/**
 * The adapter against a server that restarts, crashes, goes away and comes
 * back, or ends a session in the middle of a write. One server for the file;
 * each test leaves it running.
 */
const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const failure = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => new Error('expected a rejection'),
    (error: unknown) => error,
  );

describe.skipIf(skipPgTests())('PgStorageAdapter when the server fails', () => {
  let server: PostgresServer;
  let admin: pg.Pool;
  beforeAll(async () => {
    server = await startPostgresServer();
    await (await PgStorageAdapter.open(server.url, { namespace: 'setup' })).close();
    admin = new pg.Pool({ connectionString: server.url, max: 2 });
    admin.on('error', () => undefined); // its idle connections die with every restart below
    // Writes of these values stall inside their statement, or inside COMMIT
    // (a deferred trigger), long enough to cut the session right there.
    await admin.query(`
      CREATE FUNCTION stall_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.value = '\\x5107'::bytea THEN PERFORM pg_sleep(5); END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER stall_insert BEFORE INSERT ON ${STORAGE_TABLE}
        FOR EACH ROW EXECUTE FUNCTION stall_insert();
      CREATE FUNCTION stall_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.value = '\\xc0ffee'::bytea THEN PERFORM pg_sleep(5); END IF;
        RETURN NULL;
      END $$;
      CREATE CONSTRAINT TRIGGER stall_commit AFTER INSERT ON ${STORAGE_TABLE}
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION stall_commit();`);
  });
  afterAll(async () => {
    await admin?.end();
    await server?.stop();
  });

  /** The PID of the backend running `statement` (as pg_stat_activity shows it), once one is. */
  async function backendRunning(statement: RegExp): Promise<number> {
    let pid: number | undefined;
    await until(`a backend running ${String(statement)}`, async () => {
      const { rows } = await admin.query<Record<string, unknown>>(
        "SELECT pid, query FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid()",
      );
      const found = rows.find((row) => typeof row['query'] === 'string' && statement.test(row['query']));
      pid = typeof found?.['pid'] === 'number' ? found['pid'] : undefined;
      return pid !== undefined;
    });
    return pid as number;
  }

  it('keeps data across close and reopen, a restart and kill -9, and reconnects by itself', async () => {
    const first = await PgStorageAdapter.open(server.url, { namespace: 'survives' });
    await first.save(['closed'], bytes(1));
    await first.close();
    await server.restart();
    const second = await PgStorageAdapter.open(server.url, { namespace: 'survives' });
    expect(await second.load(['closed'])).toEqual(bytes(1));
    await second.writeBatch([
      { key: ['crash', 'a'], data: bytes(2) },
      { key: ['crash', 'b'], data: bytes(3) },
    ]);
    await server.kill9(); // acknowledged means committed: it must be there after crash recovery
    await server.start();
    // The same adapter: its pool dropped the dead connections and opens new ones.
    expect(await second.loadRange(['crash'])).toEqual([
      { key: ['crash', 'a'], data: bytes(2) },
      { key: ['crash', 'b'], data: bytes(3) },
    ]);
    expect(await second.load(['closed'])).toEqual(bytes(1));
    await second.close();
  });

  it('rejects writes with StorageWriteError "no" while the server is down, and works again once it is back', async () => {
    const dropped: Error[] = [];
    const adapter = await PgStorageAdapter.open(server.url, {
      namespace: 'outage',
      onConnectionError: (error) => dropped.push(error),
    });
    await adapter.save(['k'], bytes(1));
    await server.halt();
    // The idle connection the server ended was reported, not thrown at the process.
    await until('the dropped connection to be reported', () => Promise.resolve(dropped.length > 0));
    const during = [
      adapter.save(['k'], bytes(2)),
      adapter.writeBatch([{ key: ['other'], data: bytes(3) }]),
      adapter.removeRange(['k']),
    ];
    for (const write of during) {
      const error = await failure(write);
      expect(error).toBeInstanceOf(StorageWriteError);
      expect((error as StorageWriteError).recorded).toBe('no');
      expect((error as StorageWriteError).message).toMatch(/cannot reach PostgreSQL/);
    }
    await expect(adapter.load(['k'])).rejects.toThrow();
    await server.start();
    expect(await adapter.load(['k'])).toEqual(bytes(1));
    expect(await adapter.load(['other'])).toBeUndefined();
    await adapter.save(['k'], bytes(4));
    expect(await adapter.load(['k'])).toEqual(bytes(4));
    await adapter.close();
  });

  it('a session cut before COMMIT is recorded "no"', async () => {
    const adapter = await PgStorageAdapter.open(server.url, { namespace: 'cut_before' });
    const write = failure(adapter.save(['stalled'], bytes(0x51, 0x07)));
    await admin.query('SELECT pg_terminate_backend($1)', [await backendRunning(/^INSERT INTO/)]);
    const error = await write;
    expect(error).toBeInstanceOf(StorageWriteError);
    expect((error as StorageWriteError).recorded).toBe('no');
    expect(await adapter.load(['stalled'])).toBeUndefined();
    await adapter.save(['next'], bytes(1));
    await adapter.close();
  });

  it('a session the server ends during COMMIT is recorded "unknown"', async () => {
    const adapter = await PgStorageAdapter.open(server.url, { namespace: 'cut_commit' });
    const write = failure(adapter.save(['slow'], bytes(0xc0, 0xff, 0xee)));
    await admin.query('SELECT pg_terminate_backend($1)', [await backendRunning(/^COMMIT$/)]);
    const error = await write;
    expect(error).toBeInstanceOf(StorageWriteError);
    expect((error as StorageWriteError).recorded).toBe('unknown');
    expect((error as StorageWriteError).message).toMatch(/COMMIT may or may not have been applied/);
    await adapter.save(['next'], bytes(1));
    expect(await adapter.load(['next'])).toEqual(bytes(1));
    await adapter.close();
  });

  it('a server that crashes during COMMIT leaves it "unknown", and the adapter recovers with the server', async () => {
    const adapter = await PgStorageAdapter.open(server.url, { namespace: 'crash_commit' });
    await adapter.save(['before'], bytes(1));
    const write = failure(adapter.save(['slow'], bytes(0xc0, 0xff, 0xee)));
    await backendRunning(/^COMMIT$/);
    await server.kill9();
    const error = await write;
    expect(error).toBeInstanceOf(StorageWriteError);
    expect((error as StorageWriteError).recorded).toBe('unknown');
    await server.start();
    expect(await adapter.load(['before'])).toEqual(bytes(1));
    await adapter.save(['after'], bytes(2));
    expect(await adapter.keys(['after'])).toEqual([['after']]);
    await adapter.close();
  });

  it('a server shutting down while the adapter closes ends no process', async () => {
    // pool.end() resolves before its idle connections have closed; the shutdown's
    // FATAL then reaches them, and the pool re-emits it as an 'error' event.
    for (let round = 0; round < 5; round++) {
      const adapter = await PgStorageAdapter.open(server.url, { namespace: 'closing', exclusiveWriter: 'closing' });
      await Promise.all([adapter.save(['a'], bytes(round)), adapter.load(['a']), adapter.keys(['a'])]);
      const closing = adapter.close();
      await server.halt();
      await closing;
      await server.start();
    }
  });
});
