import { StorageWriteError } from '@shelfsync/storage';
import { skipPgTests } from '@shelfsync/storage-pg/testing';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PgChangeLog } from '../src/index.js';
import { bytes, changeLogFixture, commitSilently, failure, range, record, sku, until } from './support.js';

describe.skipIf(skipPgTests())('PgChangeLog after lost notifications, connections and servers', () => {
  const { server, fresh, open, pool: poolOf } = changeLogFixture('recovery');
  const pool = (url: string): pg.Pool => poolOf(url, 2);
  /** The backend of the LISTEN connection of the instance connected as `name`, if it has one. */
  const listenerOf = async (admin: pg.Pool, name: string): Promise<number | undefined> => {
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
      [name],
    );
    return rows[0]?.pid;
  };

  it('reconnects a killed LISTEN connection and catches up on what was committed meanwhile, without polling', async () => {
    const url = await fresh();
    const errors: Error[] = [];
    // No poll, and a reconnect slow enough that the commits below land while nobody listens.
    const a = await open(`${url}?application_name=node_a`, {
      pollIntervalMs: 0,
      retryMinMs: 1_000,
      retryMaxMs: 1_000,
      onError: (error) => errors.push(error),
    });
    const heard = record(a);
    const admin = pool(url);
    await until('A to listen', async () => (await listenerOf(admin, 'node_a')) !== undefined);
    expect(await a.commit(sku('own'), bytes(1))).toBe(1);

    await admin.query('SELECT pg_terminate_backend($1)', [await listenerOf(admin, 'node_a')]);
    await until('A to notice', () => errors.length > 0);
    // Committed with no notification, while A has no LISTEN connection: only its catch-up read finds them.
    for (const i of range(2, 6)) expect(await commitSilently(admin, 'hub', `silent-${i}`, bytes(i))).toBe(i);
    expect(await listenerOf(admin, 'node_a')).toBeUndefined();

    await until('A to catch up', () => a.cursor() === 6);
    expect(heard.map((h) => [h.seq, h.sku, h.update])).toEqual([
      [1, 'own', [1]],
      ...range(2, 6).map((i) => [i, `silent-${i}`, [i]]),
    ]);
    expect(await listenerOf(admin, 'node_a')).toBeDefined();
    // Listening again: another instance's commit reaches A by notification alone.
    const b = await open(url, { pollIntervalMs: 0 });
    expect(await b.commit(sku('from-b'), bytes(7))).toBe(7);
    await until('A to hear B', () => a.cursor() === 7);
    expect(heard.at(-1)?.sku).toBe('from-b');
  });

  it('finds changes whose notification never came by polling; without polling, on its next own commit', async () => {
    const url = await fresh();
    const polling = await open(url, { pollIntervalMs: 30 });
    const deaf = await open(url, { pollIntervalMs: 0 });
    const [heardPolling, heardDeaf] = [record(polling), record(deaf)];
    const admin = pool(url);
    for (const i of range(1, 3)) await commitSilently(admin, 'hub', `silent-${i}`, bytes(i));

    await until('the poller to find them', () => polling.cursor() === 3);
    expect(heardPolling.map((h) => h.seq)).toEqual([1, 2, 3]);
    // Nothing told the other instance: no notification, no poll.
    expect(deaf.cursor()).toBe(0);
    // Its own commit makes it read the log: it announces the three first, then its own.
    expect(await deaf.commit(sku('own'), bytes(4))).toBe(4);
    expect(heardDeaf.map((h) => [h.seq, h.sku])).toEqual([
      [1, 'silent-1'],
      [2, 'silent-2'],
      [3, 'silent-3'],
      [4, 'own'],
    ]);
    expect(deaf.changedSince(0)).toEqual(['silent-1', 'silent-2', 'silent-3', 'own']);
  });

  it('rejects commits while the server is down, and follows the log again once it is back', async () => {
    const url = await fresh();
    const errors: Error[] = [];
    const failures: Error[] = [];
    const a = await open(url, { retryMinMs: 20, retryMaxMs: 200, onError: (error) => errors.push(error) });
    a.onFailure((error) => failures.push(error));
    const heard = record(a);
    expect(await a.commit(sku('before'), bytes(1))).toBe(1);

    await server().halt();
    try {
      const refused = await failure(a.commit(sku('during'), bytes(2)));
      expect(refused).toBeInstanceOf(StorageWriteError);
      expect(failures).toEqual([refused]);
      await until('the feed to notice', () => errors.length > 0);
    } finally {
      await server().start();
    }

    // Another process commits: A hears it once its LISTEN connection or a poll is back.
    const b = await open(url);
    expect(b.epoch).toBe(a.epoch);
    expect(await b.commit(sku('after'), bytes(3))).toBe(2);
    await until('A to hear B after the restart', () => a.cursor() === 2);
    expect(await a.commit(sku('again'), bytes(4))).toBe(3);
    expect(heard.map((h) => [h.seq, h.sku])).toEqual([
      [1, 'before'],
      [2, 'after'],
      [3, 'again'],
    ]);
  });

  it('ends no process when the server shuts down while the log closes', async () => {
    const url = await fresh();
    for (let round = 0; round < 3; round++) {
      const log = await PgChangeLog.open(url, { namespace: 'hub' });
      await log.commit(sku(`close-${round}`), bytes(round));
      const closing = log.close();
      await server().halt();
      await closing;
      await server().start();
    }
  });
});
