import { StorageWriteError } from '@shelfsync/storage';
import { CHANGE_LOG_TABLE, migrate, PgStorageAdapter, storageMigrations, WriterFence } from '@shelfsync/storage-pg';
import { skipPgTests } from '@shelfsync/storage-pg/testing';
import { describe, expect, it } from 'vitest';
import type { PgChangeLog } from '../src/index.js';
import { bytes, changeLogFixture, failure, range, record, sku, until } from './support.js';

describe.skipIf(skipPgTests())('PgChangeLog', () => {
  const { fresh, open, pool } = changeLogFixture('log');

  it('numbers the concurrent commits of two processes 1..n, and both announce every one once, in order', async () => {
    const url = await fresh();
    const [a, b] = [await open(url), await open(url)];
    expect(b.epoch).toBe(a.epoch);
    const heard = [record(a), record(b)];
    const committed = new Map<number, { sku: string; update: number[] }>();
    const perInstance = 150;
    const inFlight = 6;
    /** One process's commits: `inFlight` at once, SKUs shared with the other so they interleave. */
    const burst = async (log: PgChangeLog, tag: number): Promise<void> => {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < perInstance) {
          const i = next++;
          const name = `sku-${i % 17}`;
          const update = [tag, i & 0xff, i >> 8];
          const seq = await log.commit(sku(name), Uint8Array.from(update));
          expect(committed.has(seq)).toBe(false);
          committed.set(seq, { sku: name, update });
          // Resolved only once this process announced it.
          expect(log.cursor()).toBeGreaterThanOrEqual(seq);
        }
      };
      await Promise.all(range(1, inFlight).map(worker));
    };
    await Promise.all([burst(a, 1), burst(b, 2)]);

    expect([...committed.keys()].sort((x, y) => x - y)).toEqual(range(1, 2 * perInstance));
    for (const log of [a, b]) await until('both to reach the head', () => log.cursor() === 2 * perInstance);
    const expected = range(1, 2 * perInstance).map((seq) => {
      const change = committed.get(seq);
      if (change === undefined) throw new Error(`change ${seq} missing`);
      return { seq, ...change };
    });
    for (const list of heard) expect(list).toEqual(expected);

    // Each SKU's latest change, in change order: what changedSince must list.
    const latest = new Map<string, number>();
    for (const { seq, sku: name } of expected) {
      latest.delete(name);
      latest.set(name, seq);
    }
    for (const log of [a, b]) {
      for (const k of [0, 1, 150, 280, 299, 300]) {
        expect(log.changedSince(k)).toEqual([...latest].filter(([, seq]) => seq > k).map(([name]) => name));
      }
      expect(log.skuCount()).toBe(17);
      expect(log.changeOf(sku('sku-3'))?.seq).toBe(latest.get('sku-3'));
    }
  });

  it('commits extra writes with the change, and a failed commit gives its number back', async () => {
    const url = await fresh();
    const log = await open(url, { namespace: 'records' });
    const failures: Error[] = [];
    log.onFailure((error) => failures.push(error));
    expect(await log.commit(sku('a'), bytes(1), [{ key: ['res', 'a'], data: bytes(7) }])).toBe(1);
    const records = await PgStorageAdapter.open(url, { namespace: 'records' });
    expect(await records.load(['res', 'a'])).toEqual(bytes(7));

    // Fails at COMMIT, after the number was taken and the change row written.
    const admin = pool(url);
    await admin.query(`
      CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.sku = 'poison' THEN RAISE EXCEPTION 'poisoned change'; END IF;
        RETURN NULL;
      END $$;
      CREATE CONSTRAINT TRIGGER refuse_poison AFTER INSERT ON ${CHANGE_LOG_TABLE}
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_poison();`);
    const refused = await failure(
      log.commit(sku('poison'), bytes(2), [
        { key: ['res', 'a'], remove: true },
        { key: ['res', 'b'], data: bytes(8) },
      ]),
    );
    expect(refused).toBeInstanceOf(StorageWriteError);
    expect((refused as StorageWriteError).recorded).toBe('no');
    expect((refused as Error).message).toMatch(/COMMIT refused: poisoned change/);
    expect(await records.load(['res', 'a'])).toEqual(bytes(7));
    expect(await records.load(['res', 'b'])).toBeUndefined();
    // Refused before its transaction: an invalid key.
    const invalid = await failure(log.commit(sku('b'), bytes(3), [{ key: ['no space'], data: bytes(1) }]));
    expect((invalid as StorageWriteError).recorded).toBe('no');

    expect(await log.commit(sku('b'), bytes(4), [{ key: ['res', 'b'], data: bytes(9) }])).toBe(2);
    expect(await records.load(['res', 'b'])).toEqual(bytes(9));
    expect(log.cursor()).toBe(2);
    expect(log.allSkus()).toEqual(['a', 'b']);
    // Only the first failure is told.
    expect(failures).toEqual([refused]);
    expect(log.failed).toBe(refused);
    await records.close();
  });

  it("refuses a fenced-out process's commit without consuming a number, and the new writer goes on", async () => {
    const url = await fresh();
    const [poolA, poolB] = [pool(url), pool(url)];
    await migrate(poolA, storageMigrations);
    const lost: Error[] = [];
    const fenceA = await WriterFence.acquire(poolA, 'hub', (error) => lost.push(error));
    const a = await open(poolA, { fence: fenceA });
    const heardA = record(a);
    expect(await a.commit(sku('x'), bytes(1))).toBe(1);

    // The server ends A's lock session; B takes the writer over.
    await poolB.query(
      `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()`,
    );
    await until('the lock loss to be reported', () => lost.length > 0);
    const fenceB = await WriterFence.acquire(poolB, 'hub');
    const b = await open(poolB, { fence: fenceB });

    const refused = await failure(a.commit(sku('y'), bytes(2)));
    expect(refused).toBeInstanceOf(StorageWriteError);
    expect((refused as StorageWriteError).recorded).toBe('no');
    expect((refused as Error).message).toMatch(/taken over/);
    expect(await b.commit(sku('z'), bytes(3))).toBe(2);
    expect(await b.commit(sku('x'), bytes(4))).toBe(3);
    // A still follows the log it may no longer write.
    await until('A to hear B', () => a.cursor() === 3);
    expect(heardA.map((h) => [h.seq, h.sku])).toEqual([
      [1, 'x'],
      [2, 'z'],
      [3, 'x'],
    ]);
    await a.close();
    await b.close();
    fenceA.release();
    fenceB.release();
  });

  it('rebuilds the index and cursor from the log on reopen, keeps its epoch, and a new database has another', async () => {
    const url = await fresh();
    const first = await open(url);
    const names = ['a', 'b', 'c', 'a', 'd', 'b', 'a'];
    for (const [i, name] of names.entries()) await first.commit(sku(name), bytes(i));
    const before = {
      cursor: first.cursor(),
      all: first.allSkus(),
      since: [0, 3, 5, 7].map((k) => first.changedSince(k)),
      changes: first.allSkus().map((name) => first.changeOf(name)),
    };
    expect(before.cursor).toBe(7);
    expect(before.all).toEqual(['c', 'd', 'b', 'a']);
    await first.close();
    await expect(first.commit(sku('a'), bytes(1))).rejects.toThrow(/closed/);

    const again = await open(url);
    expect(again.epoch).toBe(first.epoch);
    expect({
      cursor: again.cursor(),
      all: again.allSkus(),
      since: [0, 3, 5, 7].map((k) => again.changedSince(k)),
      changes: again.allSkus().map((name) => again.changeOf(name)),
    }).toEqual(before);
    expect(again.skuCount()).toBe(4);
    expect(await again.commit(sku('e'), bytes(9))).toBe(8);

    const other = await open(await fresh());
    expect(other.epoch).not.toBe(first.epoch);
    expect(other.epoch).toMatch(/^[0-9a-f-]{36}$/);
    expect(other.cursor()).toBe(0);
    expect(other.changedSince(0)).toEqual([]);
  });
});
