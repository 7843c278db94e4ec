import { inTransaction, SHARD_LEASES_TABLE, STORAGE_TABLE } from '@shelfsync/storage-pg';
import { skipPgTests } from '@shelfsync/storage-pg/testing';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { LeaseLost, ShardCountMismatch, ShardLeases } from '../src/index.js';
import { balanced, FAST, leasesFixture, until } from './lease-support.js';

const failure = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => new Error('expected a rejection'),
    (error: unknown) => error,
  );

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe.skipIf(skipPgTests())('ShardLeases on PostgreSQL', () => {
  const { fresh, open } = leasesFixture('leases');

  it('gives a lone node every shard, then splits them fairly as nodes join, one owner per shard', async () => {
    const url = await fresh();
    const changes: { shard: number; owned: boolean; epoch: number }[] = [];
    const a = await open(url, { node: 'a', url: 'http://a', onChange: (change) => changes.push(change) });
    // The first round runs inside open.
    expect(a.ownedShards()).toEqual(range(16));
    expect(changes.filter((c) => c.owned).map((c) => c.shard)).toEqual(range(16));
    expect(changes.every((c) => c.epoch === 1)).toBe(true);

    const b = await open(url, { node: 'b' });
    await until('a and b to balance', () => balanced([a, b], 16));
    expect(a.ownedShards()).toHaveLength(8);
    const c = await open(url, { node: 'c' });
    await until('a, b and c to balance', () => balanced([a, b, c], 16));
    // Moved shards were taken under raised epochs.
    for (const shard of c.ownedShards()) expect(c.epochOf(shard)).toBeGreaterThanOrEqual(2);

    const view = await a.view();
    expect(view.nodes.map((n) => [n.node, n.url, n.alive])).toEqual([
      ['a', 'http://a', true],
      ['b', null, true],
      ['c', null, true],
    ]);
    for (const shard of view.shards) {
      const owner = [a, b, c].find((node) => node.owns(shard.shard));
      expect(shard.node).toBe(owner?.node);
      expect(shard.epoch).toBe(owner?.epochOf(shard.shard));
    }
    expect(a.stats().leaseChanges).toBeGreaterThan(16);
  });

  it('never lets two nodes believe they own one shard at once while they rebalance', async () => {
    const url = await fresh();
    const nodes = [await open(url, { node: 'n0', shards: 32 })];
    const doubles: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        for (let shard = 0; shard < 32; shard++) {
          const owners = nodes.filter((node) => node.owns(shard));
          if (owners.length > 1) doubles.push(`shard ${shard}: ${owners.map((o) => o.node).join(', ')}`);
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    for (const name of ['n1', 'n2', 'n3']) {
      nodes.push(await open(url, { node: name, shards: 32 }));
      await until(`${name} to join the split`, () => balanced(nodes, 32));
    }
    // Leaving moves shards too: closing nodes hand theirs over.
    for (const leaving of nodes.splice(0, 2)) await leaving.close();
    await until('the two left to take everything', () => balanced(nodes, 32));
    sampling = false;
    await sampler;
    expect(doubles).toEqual([]);
  });

  it('hands a closing node’s shards to the others well within a lease', async () => {
    const url = await fresh();
    const a = await open(url, { node: 'a' });
    const b = await open(url, { node: 'b' });
    await until('a and b to balance', () => balanced([a, b], 16));
    const given = a.ownedShards();
    const started = Date.now();
    await a.close();
    expect(a.ownedShards()).toEqual([]);
    await until('b to own every shard', () => b.ownedShards().length === 16);
    const elapsed = Date.now() - started;
    // One round of b's (renewEveryMs) plus its queries; an expiry would take a whole lease.
    expect(elapsed).toBeLessThan(FAST.leaseMs / 2);
    expect((await b.view()).nodes.find((n) => n.node === 'a')?.alive).toBe(false);
    for (const shard of given) expect(b.epochOf(shard)).toBeGreaterThanOrEqual(2);
  });

  it('refuses a deposed owner’s write inside its transaction, and a takeover waits for a write that passed check', async () => {
    const url = await fresh();
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    pool.on('error', () => undefined);
    try {
      const a = await open(url, { node: 'a', shards: 4 });
      const write = (client: pg.ClientBase, key: string): Promise<unknown> =>
        client.query(`INSERT INTO ${STORAGE_TABLE} (namespace, key, value) VALUES ('t', $1, '\\x01')`, [
          Buffer.from(key),
        ]);
      const stored = async (): Promise<string[]> =>
        (await pool.query<{ key: Buffer }>(`SELECT key FROM ${STORAGE_TABLE} ORDER BY key`)).rows.map((r) =>
          r.key.toString(),
        );

      // A write that passed its check holds the lease row; a takeover (an epoch raise) must wait for it.
      const client = await pool.connect();
      await client.query('BEGIN');
      await a.check(client, 3);
      await write(client, 'before');
      const takeover = pool.query(
        `UPDATE ${SHARD_LEASES_TABLE} SET node = 'z', epoch = epoch + 1 WHERE cluster = 'hub' AND shard = 3`,
      );
      let tookOver = false;
      void takeover.then(() => (tookOver = true));
      await until('the takeover to wait on the write', async () => {
        const { rows } = await pool.query<{ waiting: number }>(
          `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE ${SHARD_LEASES_TABLE}%'`,
        );
        return rows[0]?.waiting === 1;
      });
      // Meanwhile a's renewals go on: they move no key column.
      const rounds = a.stats().rounds;
      await until('a to renew', () => a.stats().rounds >= rounds + 2);
      expect(a.stats().renewFailures).toBe(0);
      expect(tookOver).toBe(false);
      await client.query('COMMIT');
      client.release();
      await takeover;

      // a was deposed: its next write is refused inside its transaction and leaves nothing.
      const refused = await failure(
        inTransaction(pool, async (tx) => {
          await a.check(tx, 3);
          await write(tx, 'after');
        }),
      );
      expect(refused).toBeInstanceOf(Error);
      const lost = (refused as Error).cause;
      expect(lost).toBeInstanceOf(LeaseLost);
      expect(lost).toMatchObject({ shard: 3, current: { node: 'z', epoch: 2 } });
      // Epoch 1 as a still believed it, or none when a's round had already noticed the loss.
      expect([1, undefined]).toContain((lost as LeaseLost).epoch);
      expect(await stored()).toEqual(['before']);
      await until('a to notice it lost shard 3', () => !a.owns(3));
      expect(a.ownedShards()).toEqual([0, 1, 2]);

      // A shard this node never held is refused too, naming its owner.
      const b = await open(url, { node: 'b', shards: 4 });
      const notMine = await failure(inTransaction(pool, (tx) => b.check(tx, 0)));
      expect((notMine as Error).cause).toMatchObject({ name: 'LeaseLost', epoch: undefined, current: { node: 'a' } });
    } finally {
      await pool.end();
    }
  });

  it('shows each node’s store sessions as its heartbeats report them, and none once it left', async () => {
    const url = await fresh();
    let sessions = 3;
    const errors: Error[] = [];
    const a = await open(url, { node: 'a', status: () => ({ stores: sessions }) });
    const b = await open(url, { node: 'b', onError: (error) => errors.push(error) });
    const storesOf = async (node: string): Promise<number | undefined> =>
      (await a.view()).nodes.find((n) => n.node === node)?.stores;
    // The first heartbeat ran inside open; b reports nothing until told how.
    expect(await storesOf('a')).toBe(3);
    expect(await storesOf('b')).toBe(0);
    b.reportStatus(() => ({ stores: 5 }));
    sessions = 4;
    await until(
      'both counts to reach the database',
      async () => (await storesOf('a')) === 4 && (await storesOf('b')) === 5,
    );
    // A status that fails keeps the last count, and the heartbeats (so the leases) go on.
    b.reportStatus(() => {
      throw new Error('no count');
    });
    await until('b to report the failure', () => errors.some((e) => e.message === 'no count'));
    expect(await storesOf('b')).toBe(5);
    expect((await a.view()).nodes.find((n) => n.node === 'b')?.alive).toBe(true);
    await b.close();
    expect(await storesOf('b')).toBe(0);
  });

  it('refuses a node opened with another shard count than its cluster’s', async () => {
    const url = await fresh();
    await open(url, { node: 'a', shards: 16 });
    const refused = await failure(ShardLeases.open(url, { node: 'b', shards: 32, ...FAST }));
    expect(refused).toBeInstanceOf(ShardCountMismatch);
    expect(refused).toMatchObject({ shards: 32, expected: 16 });
    // Another cluster on the same database has its own count.
    await open(url, { node: 'b', shards: 32, cluster: 'other' });
  });

  it('lets a process restarted under a node’s name replace the old one, which stands down', async () => {
    const url = await fresh();
    const errors: Error[] = [];
    const old = await open(url, { node: 'a', onError: (error) => errors.push(error) });
    expect(old.ownedShards()).toHaveLength(16);
    const restarted = await open(url, { node: 'a' });
    await until('the old process to stand down', () => old.ownedShards().length === 0);
    expect(errors.map((e) => e.message).join('\n')).toMatch(/another process registered as hub node "a"/);
    await until('the new one to own every shard', () => restarted.ownedShards().length === 16);
  });
});
