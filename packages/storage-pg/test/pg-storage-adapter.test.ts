import {
  compareKeys,
  hasPrefix,
  MemoryStorageAdapter,
  StorageWriteError,
  type StorageAdapter,
  type StorageKey,
  type StorageWrite,
} from '@shelfsync/storage';
import { runStorageAdapterTests } from '@shelfsync/storage/testing';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyWrites,
  inTransaction,
  PgStorageAdapter,
  prepareWrites,
  STORAGE_TABLE,
  storageMigrations,
} from '../src/index.js';
import { skipPgTests, startPostgresServer, type PostgresServer } from '../src/testing/postgres-server.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

describe.skipIf(skipPgTests())('PgStorageAdapter', () => {
  let server: PostgresServer;
  let shared: pg.Pool;
  let namespaces = 0;
  const fresh = (): string => `ns_${++namespaces}`;
  beforeAll(async () => {
    server = await startPostgresServer();
    shared = new pg.Pool({ connectionString: server.url, max: 4 });
    shared.on('error', () => undefined);
  });
  afterAll(async () => {
    await shared?.end();
    await server?.stop();
  });

  // Through a connection string: the adapter owns its pool and ends it on close.
  runStorageAdapterTests('PgStorageAdapter on its own pool', async () => {
    const namespace = fresh();
    const opened: PgStorageAdapter[] = [await PgStorageAdapter.open(server.url, { namespace })];
    return {
      adapter: opened[0] as PgStorageAdapter,
      reopen: async () => {
        const again = await PgStorageAdapter.open(server.url, { namespace });
        opened.push(again);
        return again;
      },
      teardown: async () => {
        for (const adapter of opened) await adapter.close();
      },
    };
  });

  // On a pool the caller keeps: closing the adapter must leave the pool working for the next test.
  runStorageAdapterTests('PgStorageAdapter on a shared pool', async () => {
    const namespace = fresh();
    const adapter = await PgStorageAdapter.open(shared, { namespace });
    return {
      adapter,
      reopen: () => PgStorageAdapter.open(shared, { namespace }),
      teardown: () => adapter.close(),
    };
  });

  it('migrates the schema on the first open only', async () => {
    const url = await server.createDatabase('first_open');
    const first = await PgStorageAdapter.open(url, { namespace: 'a' });
    const second = await PgStorageAdapter.open(url, { namespace: 'b' });
    const versions = storageMigrations.map((migration) => migration.version);
    const newest = versions.at(-1);
    expect(first.migration).toEqual({ applied: versions, version: newest });
    expect(second.migration).toEqual({ applied: [], version: newest });
    await Promise.all([first.close(), second.close()]);
  });

  it('keeps namespaces apart on one table', async () => {
    const [a, b] = await Promise.all(
      [fresh(), fresh()].map((namespace) => PgStorageAdapter.open(shared, { namespace })),
    );
    if (a === undefined || b === undefined) throw new Error('unreachable');
    await a.save(['k'], bytes(1));
    await b.save(['k'], bytes(2));
    await b.save(['k', 'x'], bytes(3));
    await a.removeRange(['k']);
    expect(await a.keys(['k'])).toEqual([]);
    expect(await b.loadRange(['k'])).toEqual([
      { key: ['k'], data: bytes(2) },
      { key: ['k', 'x'], data: bytes(3) },
    ]);
    await Promise.all([a.close(), b.close()]);
  });

  it('refuses a namespace that is no plain identifier', async () => {
    for (const namespace of ['', 'Upper', 'has-dash', '1st', 'x'.repeat(64), "a'; DROP TABLE x; --"]) {
      await expect(PgStorageAdapter.open(shared, { namespace }), namespace).rejects.toThrow(TypeError);
    }
  });

  it('lists keys in storage key order as PostgreSQL sorts them, for random keys and prefixes', async () => {
    const segment = fc.string({ unit: fc.constantFrom('!', '-', 'A', 'a', 'b', '~'), minLength: 1, maxLength: 3 });
    const key = fc.array(segment, { minLength: 1, maxLength: 3 });
    const adapter = await PgStorageAdapter.open(shared, { namespace: fresh() });
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(key, { maxLength: 40, selector: (k) => k.join(' ') }), key, async (keys, p) => {
        await adapter.removeRange(['r']);
        await adapter.writeBatch(keys.map((k) => ({ key: ['r', ...k], data: bytes(k.length) })));
        const expected = keys.filter((k) => hasPrefix(k, p)).sort(compareKeys);
        expect(await adapter.keys(['r', ...p])).toEqual(expected.map((k) => ['r', ...k]));
        expect((await adapter.keys(['r'])).length).toBe(keys.length);
      }),
      { numRuns: 60 },
    );
    await adapter.close();
  });

  it('stores large values and batches that span several statements', async () => {
    const adapter = await PgStorageAdapter.open(shared, { namespace: fresh() });
    const big = Uint8Array.from({ length: 3 << 20 }, (_, i) => (i * 31) & 0xff);
    await adapter.save(['big'], big);
    const loaded = await adapter.load(['big']);
    // Compared as one buffer: a deep toEqual walks 3 MiB element by element for seconds.
    expect(loaded instanceof Uint8Array && Buffer.from(loaded).equals(big)).toBe(true);
    const writes: StorageWrite[] = Array.from({ length: 2500 }, (_, i) => ({
      key: ['n', String(i)],
      data: bytes(i & 7),
    }));
    await adapter.writeBatch([...writes, { key: ['n', '7'], remove: true }, { key: ['n', '9'], data: bytes(99) }]);
    expect(await adapter.keys(['n'])).toHaveLength(2499);
    expect(await adapter.load(['n', '9'])).toEqual(bytes(99));
    await adapter.close();
  });

  it('applies a random mix of overlapping calls exactly as one-at-a-time calls in the same order', async () => {
    const k = fc.constantFrom<StorageKey>(['a'], ['a', 'b'], ['a', 'c'], ['b']);
    const op = fc.oneof(
      fc.record({ op: fc.constant('save' as const), key: k, value: fc.nat(255) }),
      fc.record({ op: fc.constant('remove' as const), key: k }),
      fc.record({ op: fc.constant('removeRange' as const), key: k }),
      fc.record({ op: fc.constant('load' as const), key: k }),
      fc.record({ op: fc.constant('loadRange' as const), key: k }),
      fc.record({ op: fc.constant('batch' as const), key: k, other: k, value: fc.nat(255) }),
    );
    type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;
    const call = (adapter: StorageAdapter, o: Op): Promise<unknown> => {
      switch (o.op) {
        case 'save':
          return adapter.save(o.key, bytes(o.value));
        case 'remove':
          return adapter.remove(o.key);
        case 'removeRange':
          return adapter.removeRange(o.key);
        case 'load':
          return adapter.load(o.key);
        case 'loadRange':
          return adapter.loadRange(o.key);
        case 'batch':
          return adapter.writeBatch([
            { key: o.key, data: bytes(o.value) },
            { key: o.other, remove: true },
          ]);
      }
    };
    const adapter = await PgStorageAdapter.open(shared, { namespace: fresh() });
    const ops = fc.sample(fc.array(op, { minLength: 300, maxLength: 300 }), { numRuns: 1, seed: 20261201 })[0] ?? [];
    // Fired without waiting: the adapter must still run them in call order.
    const results = await Promise.all(ops.map((o) => call(adapter, o)));
    const model = new MemoryStorageAdapter();
    const expected: unknown[] = [];
    for (const o of ops) expected.push(await call(model, o));
    expect(results).toEqual(expected);
    await adapter.close();
  });

  it("applies a batch inside a caller's transaction, committed or rolled back with the caller's own rows", async () => {
    const namespace = fresh();
    const adapter = await PgStorageAdapter.open(shared, { namespace });
    await adapter.save(['gone'], bytes(9));
    const batch = prepareWrites([
      { key: ['a'], data: bytes(1) },
      { key: ['gone'], remove: true },
      { key: ['a'], data: bytes(2) }, // the last write to a key wins, as in writeBatch
    ]);
    const failing = inTransaction(shared, async (client) => {
      await applyWrites(client, namespace, batch);
      throw new Error('the caller changes its mind');
    });
    await expect(failing).rejects.toThrow(/changes its mind/);
    expect([await adapter.load(['a']), await adapter.load(['gone'])]).toEqual([undefined, bytes(9)]);
    await inTransaction(shared, (client) => applyWrites(client, namespace, batch));
    expect([await adapter.load(['a']), await adapter.load(['gone'])]).toEqual([bytes(2), undefined]);
    expect(() => prepareWrites([{ key: [''], data: bytes(1) }])).toThrow();
    await adapter.close();
  });

  describe('failed writes', () => {
    let url: string;
    let admin: pg.Pool;
    beforeAll(async () => {
      // A database of its own: the triggers below would disturb the other tests.
      url = await server.createDatabase('failing_writes');
      await (await PgStorageAdapter.open(url, { namespace: 'setup' })).close();
      admin = new pg.Pool({ connectionString: url, max: 1 });
      admin.on('error', () => undefined);
      await admin.query(`
        CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.value = '\\xdead'::bytea THEN RAISE EXCEPTION 'poisoned value'; END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON ${STORAGE_TABLE}
          FOR EACH ROW EXECUTE FUNCTION refuse_poison();
        CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.value = '\\xbeef'::bytea THEN RAISE EXCEPTION 'refused at commit'; END IF;
          RETURN NULL;
        END $$;
        CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT OR UPDATE ON ${STORAGE_TABLE}
          DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit();`);
    });
    afterAll(async () => {
      await admin?.end();
    });

    it('a batch that fails midway leaves nothing, and says nothing was recorded', async () => {
      const adapter = await PgStorageAdapter.open(url, { namespace: 'midway' });
      await adapter.save(['kept'], bytes(1));
      // The removal runs first, the poisoned row is in the third INSERT of 1,000 rows.
      const writes: StorageWrite[] = [
        { key: ['kept'], remove: true },
        ...Array.from({ length: 2500 }, (_, i) => ({ key: ['n', String(i)], data: bytes(1) })),
        { key: ['poison'], data: bytes(0xde, 0xad) },
      ];
      const error: unknown = await adapter.writeBatch(writes).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageWriteError);
      expect((error as StorageWriteError).recorded).toBe('no');
      expect((error as StorageWriteError).message).toMatch(/poisoned value/);
      expect(await adapter.load(['kept'])).toEqual(bytes(1));
      expect(await adapter.keys(['n'])).toEqual([]);
      await adapter.save(['after'], bytes(2)); // the adapter goes on
      expect(await adapter.keys(['after'])).toEqual([['after']]);
      await adapter.close();
    });

    it('a COMMIT the server refuses is recorded "no", and nothing of it is stored', async () => {
      const adapter = await PgStorageAdapter.open(url, { namespace: 'at_commit' });
      const error: unknown = await adapter
        .writeBatch([
          { key: ['a'], data: bytes(1) },
          { key: ['b'], data: bytes(0xbe, 0xef) },
        ])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageWriteError);
      expect((error as StorageWriteError).recorded).toBe('no');
      expect((error as StorageWriteError).message).toMatch(/COMMIT refused: refused at commit/);
      expect(await adapter.keys(['a'])).toEqual([]);
      await adapter.save(['a'], bytes(3));
      expect(await adapter.load(['a'])).toEqual(bytes(3));
      await adapter.close();
    });

    it('refuses a stored key that no storage key encodes to, instead of returning it', async () => {
      const adapter = await PgStorageAdapter.open(url, { namespace: 'garbage' });
      await admin.query(`INSERT INTO ${STORAGE_TABLE} VALUES ('garbage', '\\x6b0000'::bytea, '\\x01'::bytea)`);
      await expect(adapter.keys(['k'])).rejects.toThrow(TypeError);
      await adapter.close();
    });
  });
});
