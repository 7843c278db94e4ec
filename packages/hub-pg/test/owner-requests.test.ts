import { skipPgTests } from '@shelfsync/storage-pg/testing';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RequestFailed, RequestTimedOut, type OwnerRequest, type OwnerRequests } from '../src/index.js';
import { gate, listenerOf, ownerRequestsFixture, request, rows } from './owner-requests-support.js';
import { failure, range, until } from './support.js';

// `node --import tsx`, not the tsx command: that one runs the script in a child of its own, which a SIGKILL would miss.
const root = fileURLToPath(new URL('../../../', import.meta.url));
const childScript = fileURLToPath(new URL('./owner-requests-child.ts', import.meta.url));

describe.skipIf(skipPgTests())('OwnerRequests', () => {
  const { fresh, node, pool } = ownerRequestsFixture('requests');

  /** Counts the handler's runs per id and answers with the body and the node that served. */
  const echo = (name: string, runs: Map<string, number>) => (r: OwnerRequest) => {
    runs.set(r.id, (runs.get(r.id) ?? 0) + 1);
    return Promise.resolve({ servedBy: name, body: r.body });
  };

  it('hands a request asked on one node to the shard owner and brings its answer back', async () => {
    const url = await fresh();
    const runs = new Map<string, number>();
    // No polling: notifications alone carry the request and the answer.
    const a = await node(url, 'node_a', [3], { pollIntervalMs: 0 });
    const b = await node(url, 'node_b', [], { pollIntervalMs: 0 });
    a.requests.serve('echo', echo('node_a', runs));
    // B serves the kind too, but does not own shard 3: it must not take the request.
    b.requests.serve('echo', echo('node_b', runs));

    const answer = await b.requests.ask(request('r1', 3, { sku: 'apple', quantity: 2 }), 5_000);
    expect(answer).toEqual({ servedBy: 'node_a', body: { sku: 'apple', quantity: 2 } });
    expect(runs).toEqual(new Map([['r1', 1]]));
    expect(a.requests.stats()).toMatchObject({ served: 1, asked: 0 });
    expect(b.requests.stats()).toEqual({ asked: 1, served: 0, failed: 0, timedOut: 0 });
    expect((await rows(pool(url))).get('r1')).toEqual({ state: 'answered', claimed_by: 'node_a' });
  });

  it('runs a request asked on its owner there, through the table, so a retry elsewhere finds the answer', async () => {
    const url = await fresh();
    const runs = new Map<string, number>();
    const a = await node(url, 'node_a', [0]);
    const b = await node(url, 'node_b', []);
    a.requests.serve('echo', echo('node_a', runs));
    expect(await a.requests.ask(request('local'), 5_000)).toEqual({ servedBy: 'node_a', body: { id: 'local' } });
    expect(await b.requests.ask(request('local'), 5_000)).toEqual({ servedBy: 'node_a', body: { id: 'local' } });
    expect(runs.get('local')).toBe(1);
  });

  it('runs the handler once for an id asked twice, one after the other and at once, on several nodes', async () => {
    const url = await fresh();
    const runs = new Map<string, number>();
    const a = await node(url, 'node_a', [0]);
    const b = await node(url, 'node_b', []);
    const c = await node(url, 'node_c', []);
    a.requests.serve('echo', echo('node_a', runs));

    const first = await b.requests.ask(request('once'), 5_000);
    expect(await b.requests.ask(request('once'), 5_000)).toEqual(first);
    expect(await c.requests.ask(request('once'), 5_000)).toEqual(first);

    const together = await Promise.all([
      b.requests.ask(request('together'), 5_000),
      c.requests.ask(request('together'), 5_000),
      c.requests.ask(request('together'), 5_000),
      a.requests.ask(request('together'), 5_000),
    ]);
    expect(new Set(together.map((answer) => JSON.stringify(answer))).size).toBe(1);
    expect(runs).toEqual(
      new Map([
        ['once', 1],
        ['together', 1],
      ]),
    );

    // The same id for another request is a caller's bug, not a retry.
    const reused = await failure(c.requests.ask(request('once', 0, { other: true }), 5_000));
    expect(reused).toBeInstanceOf(TypeError);
    expect(runs.get('once')).toBe(1);
  });

  it('gives the asker a RequestFailed when the handler throws, and keeps serving', async () => {
    const url = await fresh();
    const a = await node(url, 'node_a', [0]);
    const b = await node(url, 'node_b', []);
    a.requests.serve('reject', () => Promise.reject(new Error('out of stock')));
    a.requests.serve('throw', () => {
      throw new TypeError('bad body\0 here');
    });
    a.requests.serve('bigint', () => Promise.resolve({ quantity: 1n }));
    a.requests.serve('nul', () => Promise.resolve('a\u0000b'));
    a.requests.serve('echo', echo('node_a', new Map()));

    const rejected = await failure(b.requests.ask(request('f1', 0, {}, 'reject'), 5_000));
    expect(rejected).toBeInstanceOf(RequestFailed);
    expect(rejected).toMatchObject({ id: 'f1', message: 'out of stock' });
    expect(await failure(b.requests.ask(request('f2', 0, {}, 'throw'), 5_000))).toMatchObject({
      name: 'RequestFailed',
      message: 'bad body here',
    });
    // Answers JSON or PostgreSQL cannot hold fail the request, not the owner.
    expect(await failure(b.requests.ask(request('f3', 0, {}, 'bigint'), 5_000))).toBeInstanceOf(RequestFailed);
    expect(await failure(b.requests.ask(request('f4', 0, {}, 'nul'), 5_000))).toMatchObject({
      message: expect.stringMatching(/the answer could not be stored/) as unknown,
    });
    // The same failure again for a retry; and the owner still answers.
    expect(await failure(a.requests.ask(request('f1', 0, {}, 'reject'), 5_000))).toMatchObject({
      message: 'out of stock',
    });
    expect(await b.requests.ask(request('after'), 5_000)).toMatchObject({ servedBy: 'node_a' });
    expect(a.requests.stats()).toMatchObject({ served: 1, failed: 4 });
  });

  it('withdraws a request nobody claimed in time: it never runs, even once an owner appears', async () => {
    const url = await fresh();
    const runs = new Map<string, number>();
    const b = await node(url, 'node_b', []);
    const timedOut = await failure(b.requests.ask(request('late'), 300));
    expect(timedOut).toBeInstanceOf(RequestTimedOut);
    expect(timedOut).toMatchObject({ id: 'late', withdrawn: true });
    expect(b.requests.stats().timedOut).toBe(1);
    expect((await rows(pool(url))).has('late')).toBe(false);

    const a = await node(url, 'node_a', [0]);
    a.requests.serve('echo', echo('node_a', runs));
    a.requests.shardGained(0);
    // Requests are claimed oldest first: once a later one is answered, the withdrawn one would have run.
    await b.requests.ask(request('later'), 5_000);
    expect(runs).toEqual(new Map([['later', 1]]));
  });

  it('leaves a claimed request to finish when its ask times out, and a retry gets its answer', async () => {
    const url = await fresh();
    const runs = new Map<string, number>();
    const slow = gate();
    const started = gate();
    const a = await node(url, 'node_a', [0]);
    const b = await node(url, 'node_b', []);
    a.requests.serve('echo', async (r) => {
      started.open();
      await slow.opened;
      return echo('node_a', runs)(r);
    });
    const asked = b.requests.ask(request('slow'), 5_000);
    await started.opened;
    const timedOut = await failure(b.requests.ask(request('slow'), 100));
    expect(timedOut).toMatchObject({ name: 'RequestTimedOut', withdrawn: false });
    slow.open();
    expect(await asked).toEqual({ servedBy: 'node_a', body: { id: 'slow' } });
    expect(await b.requests.ask(request('slow'), 5_000)).toEqual({ servedBy: 'node_a', body: { id: 'slow' } });
    expect(runs.get('slow')).toBe(1);
  });

  /**
   * Starts an owner in a child process, asks `id` of it on `asker` and SIGKILLs
   * it once its handler started: the request is left claimed by `doomed`.
   */
  async function killOwnerMidHandler(url: string, asker: OwnerRequests, id: string) {
    const args = ['--import', 'tsx', childScript, `${url}?application_name=doomed`, 'doomed'];
    const child = spawn(process.execPath, args, { cwd: root, stdio: 'pipe' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      await until('the doomed owner to listen', () => out.includes('ready\n'), 20_000);
      const asked = asker.ask(request(id, 5, { n: 1 }, 'slow'), 20_000);
      await until('the doomed owner to start the handler', () => out.includes(`started ${id}\n`));
      return { asked };
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  }

  it('serves again, once the next owner gains the shard, a request whose owner was killed mid-handler', async () => {
    const url = await fresh();
    const b = await node(url, 'node_b', []);
    const { asked } = await killOwnerMidHandler(url, b.requests, 'orphan');
    expect((await rows(pool(url))).get('orphan')).toEqual({ state: 'claimed', claimed_by: 'doomed' });
    const a = await node(url, 'node_a', [5]);
    a.requests.serve('slow', echo('node_a', new Map()));
    a.requests.shardGained(5);
    expect(await asked).toEqual({ servedBy: 'node_a', body: { n: 1 } });
  });

  it('hands back, when a killed node starts again under its name, what it had claimed', async () => {
    const url = await fresh();
    const b = await node(url, 'node_b', []);
    const { asked } = await killOwnerMidHandler(url, b.requests, 'orphan');
    const a = await node(url, 'node_a', [5]);
    a.requests.serve('slow', echo('node_a', new Map()));
    // No shardGained: A held the shard all along; the restarted node gives the request back.
    const restarted = await node(url, 'doomed', []);
    expect(await asked).toEqual({ servedBy: 'node_a', body: { n: 1 } });
    expect(restarted.requests.stats()).toMatchObject({ served: 0 });
  });

  it('delivers requests and answers by polling when no notification arrives', async () => {
    const url = await fresh();
    const runs = new Map<string, number>();
    // Polling often, and a LISTEN connection that once dropped stays down for the test.
    const options = { pollIntervalMs: 30, retryMinMs: 60_000, retryMaxMs: 60_000 };
    const a = await node(url, 'node_a', [0], options);
    const b = await node(url, 'node_b', [], options);
    a.requests.serve('echo', echo('node_a', runs));
    const admin = pool(url);
    for (const name of ['node_a', 'node_b']) {
      await admin.query('SELECT pg_terminate_backend($1)', [await listenerOf(admin, name)]);
    }
    await until('both nodes to lose their LISTEN connection', () => a.errors.length > 0 && b.errors.length > 0);

    const answers = await Promise.all(range(1, 5).map((i) => b.requests.ask(request(`p${i}`, 0, { i }), 5_000)));
    expect(answers).toEqual(range(1, 5).map((i) => ({ servedBy: 'node_a', body: { i } })));
    expect([...runs.values()]).toEqual([1, 1, 1, 1, 1]);
    expect(await listenerOf(admin, 'node_a')).toBeUndefined();
    expect(await listenerOf(admin, 'node_b')).toBeUndefined();
  });

  it('answers 50 concurrent asks over 3 nodes, each exactly once', async () => {
    const url = await fresh();
    const runs = new Map<string, number>();
    const nodes = await Promise.all([0, 1, 2].map((i) => node(url, `node_${i}`, [i, i + 3])));
    for (const [i, n] of nodes.entries()) n.requests.serve('echo', echo(`node_${i}`, runs));
    const asker = (i: number): OwnerRequests => {
      const found = nodes[i % 3];
      if (found === undefined) throw new Error(`no node ${i % 3}`);
      return found.requests;
    };
    const answers = await Promise.all(
      range(1, 50).map((i) => asker(i).ask(request(`c${i}`, (i * 7) % 6, { i }), 10_000)),
    );
    for (const [index, answer] of answers.entries()) {
      const i = index + 1;
      expect(answer).toEqual({ servedBy: `node_${((i * 7) % 6) % 3}`, body: { i } });
    }
    expect(runs.size).toBe(50);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    const served = nodes.map((n) => n.requests.stats().served);
    expect(served.reduce((sum, count) => sum + count, 0)).toBe(50);
  });

  it('hands a request back when its owner loses the shard mid-handler; the next owner answers it', async () => {
    const url = await fresh();
    const started = gate();
    const lost = gate();
    const a = await node(url, 'node_a', [0]);
    const b = await node(url, 'node_b', []);
    a.requests.serve('echo', async () => {
      started.open();
      await lost.opened;
      throw new Error('not the shard owner any more');
    });
    b.requests.serve('echo', echo('node_b', new Map()));
    const asked = b.requests.ask(request('moved'), 10_000);
    await started.opened;
    a.owned.delete(0);
    b.owned.add(0);
    b.requests.shardGained(0);
    lost.open();
    expect(await asked).toEqual({ servedBy: 'node_b', body: { id: 'moved' } });
    expect(a.requests.stats()).toMatchObject({ served: 0, failed: 0 });
  });

  it('removes old answers in the background', async () => {
    const url = await fresh();
    const a = await node(url, 'node_a', [0], { answerRetentionMs: 1_000 });
    a.requests.serve('echo', echo('node_a', new Map()));
    await a.requests.ask(request('old'), 1_000);
    const admin = pool(url);
    expect((await rows(admin)).has('old')).toBe(true);
    await until('the old answer to go', async () => !(await rows(admin)).has('old'), 10_000);
    await expect(a.requests.ask(request('too-long'), 5_000)).rejects.toBeInstanceOf(RangeError);
  });

  it('rejects the asks still waiting on close, and refuses new ones', async () => {
    const url = await fresh();
    const b = await node(url, 'node_b', []);
    const waiting = failure(b.requests.ask(request('never'), 5_000));
    await until('the request to be recorded', async () => (await rows(pool(url))).has('never'));
    await b.requests.close();
    expect(await waiting).toMatchObject({ message: expect.stringMatching(/closed/) as unknown });
    await expect(b.requests.ask(request('after'), 1_000)).rejects.toThrow(/closed/);
  });

  it('refuses malformed requests without recording them', async () => {
    const url = await fresh();
    const b = await node(url, 'node_b', []);
    await expect(b.requests.ask(request(''), 1_000)).rejects.toBeInstanceOf(TypeError);
    await expect(b.requests.ask(request('x', -1), 1_000)).rejects.toBeInstanceOf(TypeError);
    await expect(b.requests.ask(request('x', 0.5), 1_000)).rejects.toBeInstanceOf(TypeError);
    await expect(b.requests.ask({ id: 'x', shard: 0, kind: 'echo', body: undefined }, 1_000)).rejects.toBeInstanceOf(
      TypeError,
    );
    await expect(b.requests.ask(request('x', 0, { n: 1n }), 1_000)).rejects.toBeInstanceOf(TypeError);
    await expect(b.requests.ask(request('x'), 0)).rejects.toBeInstanceOf(RangeError);
    expect((await rows(pool(url))).size).toBe(0);
    expect(b.requests.stats().asked).toBe(0);
  });
});
