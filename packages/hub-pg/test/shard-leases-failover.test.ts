import { skipPgTests } from '@shelfsync/storage-pg/testing';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import type { ShardLeases } from '../src/index.js';
import { FAST, leasesFixture, until } from './lease-support.js';

describe.skipIf(skipPgTests())('ShardLeases when a node or the database dies', () => {
  const { server, fresh, open, spawnNode } = leasesFixture('failover');

  /**
   * Two nodes here and one in a child process; once the three split the
   * shards, the child is killed with SIGKILL (no close, no handover): the
   * survivors must take its shards once its leases expire, under higher epochs.
   */
  const killOne = async (timing: { leaseMs: number; renewEveryMs: number }, shards: number): Promise<number> => {
    const url = await fresh();
    const a = await open(url, { node: 'a', shards, ...timing });
    const b = await open(url, { node: 'b', shards, ...timing });
    const child = spawnNode(url, 'c', { shards, ...timing });
    await child.ready;
    const fair = Math.ceil(shards / 3);
    const survivors: ShardLeases[] = [a, b];
    await until(
      'the three nodes to split the shards',
      () => {
        const owned = [a.ownedShards(), b.ownedShards(), child.owned()];
        return owned.every((o) => o.length > 0 && o.length <= fair) && new Set(owned.flat()).size === shards;
      },
      30_000,
    );
    const view = await a.view();
    const before = new Map(view.shards.filter((s) => s.node === 'c' && s.live).map((s) => [s.shard, s.epoch]));
    expect([...before.keys()].sort((x, y) => x - y)).toEqual(child.owned());

    const exited = new Promise((resolve) => child.process.once('exit', resolve));
    const killed = performance.now();
    child.process.kill('SIGKILL');
    await exited;
    const owner = (shard: number): ShardLeases | undefined => survivors.find((s) => s.owns(shard));
    await until('a and b to take the killed node’s shards', () => [...before.keys()].every((s) => owner(s)), 30_000);
    const elapsed = performance.now() - killed;
    for (const [shard, epoch] of before) expect(owner(shard)?.epochOf(shard)).toBeGreaterThan(epoch);
    await until('a and b to split everything', () => a.ownedShards().length + b.ownedShards().length === shards);
    expect((await a.view()).nodes.find((n) => n.node === 'c')?.alive).toBe(false);
    return elapsed;
  };

  it('takes a SIGKILLed node’s shards within a lease and two renewals', async ({ annotate }) => {
    const elapsed = await killOne(FAST, 32);
    await annotate(
      `taken ${Math.round(elapsed)} ms after SIGKILL (lease ${FAST.leaseMs} ms, renewal ${FAST.renewEveryMs} ms)`,
    );
    expect(elapsed).toBeLessThanOrEqual(FAST.leaseMs + 2 * FAST.renewEveryMs);
  });

  it('takes a SIGKILLed node’s shards within 6 s with the default timing', async ({ annotate }) => {
    const elapsed = await killOne({ leaseMs: 4_000, renewEveryMs: 1_000 }, 64);
    await annotate(`taken ${Math.round(elapsed)} ms after SIGKILL with the defaults`);
    expect(elapsed).toBeLessThanOrEqual(6_000);
  }, 60_000);

  it('stops owning within its validity window when the database goes away, and owns again once it is back', async () => {
    const url = await fresh();
    const errors: Error[] = [];
    const lost: number[] = [];
    const a = await open(url, {
      node: 'a',
      onError: (error) => errors.push(error),
      onChange: ({ shard, owned }) => {
        if (!owned) lost.push(shard);
      },
    });
    expect(a.ownedShards()).toHaveLength(16);
    await server().halt();
    // From here nothing renews: the last renewal started before halt() returned.
    const halted = performance.now();
    await until('a to stop owning', () => a.ownedShards().length === 0, 10_000);
    // The window closes before the database's lease could have expired.
    expect(performance.now() - halted).toBeLessThan(FAST.leaseMs);
    await until('a to tell about each lost shard', () => lost.length === 16);
    await until('a to report failed rounds', () => a.stats().roundFailures > 0 && errors.length > 0);

    await server().start();
    await until('a to own every shard again', () => a.ownedShards().length === 16, 20_000);
    expect(a.stats().renewFailures).toBeGreaterThan(0);
  });
});
