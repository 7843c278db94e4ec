import { CLI_ENTRY } from '@shelfsync/cli';
import { skipPgTests, startPostgresServer, type PostgresServer } from '@shelfsync/storage-pg/testing';
import { CHANGE_LOG_TABLE, HUB_NODES_TABLE } from '@shelfsync/storage-pg';
import pg from 'pg';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startBurst } from './support/burst.js';
import { Cluster, eventually, get, post } from './support/cluster.js';

const STORES = ['east', 'west'];
const STOCK = 10_000;

/**
 * Runs `shelfsync hub` with `args` until it exits; resolves with its exit code
 * and what it wrote to stderr. A hub still running after `withinMs` was not
 * refused: it is killed (never left behind) and the call rejects.
 */
function runHubUntilExit(args: readonly string[], withinMs = 40_000): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, 'hub', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, SHELFSYNC_LOG_LEVEL: 'warn' },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the hub did not exit within ${withinMs} ms: it started instead of being refused\n${stderr}`));
    }, withinMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe.skipIf(skipPgTests())('a hub on PostgreSQL (--database)', () => {
  /** Runs another hub with the cluster's secrets on a fresh data directory and `--database database`, until it exits. */
  async function runAnotherHub(database: string): Promise<{ code: number | null; stderr: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'shelfsync-another-hub-'));
    try {
      return await runHubUntilExit([
        '--port',
        '0',
        '--data',
        dir,
        '--secret-file',
        cluster.secretFile,
        '--api-token-file',
        cluster.apiTokenFile,
        '--database',
        database,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  let server: PostgresServer;
  let cluster: Cluster;
  beforeAll(async () => {
    server = await startPostgresServer();
    cluster = new Cluster({ escrow: 'off', hubFlags: ['--database', server.url] });
    await cluster.startHub();
    await Promise.all(STORES.map((id) => cluster.startStore(id)));
  }, 90_000);
  afterAll(async () => {
    await cluster?.stop();
    await server?.stop();
  }, 30_000);

  it('keeps its records in the database, and loses nothing it acknowledged to a kill -9 mid-burst', async () => {
    for (const id of STORES) {
      const receipt = await post(cluster.store(id), '/v1/receipts', { sku: `DB-${id}`, quantity: STOCK }, `db-${id}`);
      expect(receipt.status).toBe(201);
    }
    const burst = startBurst(
      STORES.map((id) => ({ id, url: cluster.store(id), sku: `DB-${id}` })),
      'db',
    );
    // The hub is killed while it still works through what the stores sent; no
    // store changes these SKUs after, so a lost acknowledged update would show as
    // stock the hub never converges to.
    await vi.waitFor(() => expect(burst.total()).toBeGreaterThan(200), {
      timeout: 60_000,
      interval: 10,
    });
    await burst.stop();
    await cluster.killHub();

    // What the hub committed is in PostgreSQL, and no sql.js file was written beside it.
    expect(existsSync(join(cluster.dir, 'hub', 'hub.sqlite'))).toBe(false);
    const database = new pg.Client({ connectionString: server.url });
    await database.connect();
    const { rows } = await database.query<{ sku: string }>(`SELECT DISTINCT sku FROM ${CHANGE_LOG_TABLE}`);
    await database.end();
    for (const id of STORES) expect(rows.map((row) => row.sku)).toContain(`DB-${id}`);

    await cluster.startHub();
    for (const id of STORES) {
      const expected = STOCK - (burst.sold.get(id) ?? 0);
      await eventually(
        () => get(cluster.hub?.url ?? '', `/v1/skus/DB-${id}`).then((r) => r.body),
        { available: expected },
        30_000,
      );
    }
    const stores = (await get(cluster.hub?.url ?? '', '/v1/stores')).body.stores as {
      storeId: string;
      rejectedUpdates: number;
    }[];
    expect(stores.filter((s) => STORES.includes(s.storeId)).every((s) => s.rejectedUpdates === 0)).toBe(true);
  }, 120_000);

  it('stops acknowledging while the database is down, says so, and goes on when it is back, with every sale the store made', async () => {
    const id = STORES[0] ?? 'east';
    const sku = `DBCRASH-${id}`;
    const hub = cluster.hub?.url ?? '';
    expect((await post(cluster.store(id), '/v1/receipts', { sku, quantity: STOCK }, 'dbcrash-in')).status).toBe(201);
    await eventually(() => get(hub, `/v1/skus/${sku}`).then((r) => r.body), { available: STOCK });
    const burst = startBurst([{ id, url: cluster.store(id), sku }], 'dbcrash');
    await vi.waitFor(() => expect(burst.total()).toBeGreaterThan(100), { timeout: 60_000, interval: 10 });
    // PostgreSQL dies with commits in flight: some answered, some cut before or
    // during COMMIT. The store keeps selling from its own rights meanwhile.
    await server.kill9();
    // The hub takes no more writes and says so: its leases lapse on its own clock.
    await vi.waitFor(async () => expect((await get(hub, '/readyz')).status).toBe(503), {
      timeout: 20_000,
      interval: 50,
    });
    await burst.stop();
    // The store's writes failed, so the hub reads the SKU again from the database when next asked: a
    // reservation of it is refused with a 503 that says to retry, and a read is served or refused so, never a 500.
    const auth = { authorization: `Bearer ${cluster.apiToken}` };
    const reserved = await post(hub, '/v1/reservations', { sku, quantity: 1 }, 'dbcrash-reserve', auth);
    expect([reserved.status, reserved.body.code]).toEqual([503, 'WRITE_CONFLICT']);
    const ledger = await get(hub, `/v1/skus/${sku}/ledger`, auth);
    expect(ledger.status === 200 || (ledger.status === 503 && ledger.body.code === 'WRITE_CONFLICT')).toBe(true);
    // Back, without restarting the hub: it reads again what the database holds, and the
    // store sends what it still has unacknowledged.
    await server.start();
    await vi.waitFor(async () => expect((await get(hub, '/readyz')).status).toBe(200), {
      timeout: 30_000,
      interval: 100,
    });
    // The store reconnects after its backoff (up to 10 s after the failures of the outage), then sends what it holds.
    await eventually(
      () => get(hub, `/v1/skus/${sku}`).then((r) => r.body),
      { available: STOCK - burst.total() },
      60_000,
    );
    await eventually(() => get(cluster.store(id), '/v1/status').then((r) => r.body), {
      hub: { connected: true, caughtUp: true },
      pendingSync: 0,
    });
  }, 150_000);

  it('says which node holds each shard, and counts its leases in the metrics', async () => {
    const hub = cluster.hub?.url ?? '';
    type View = {
      mode: string;
      node: string;
      stores: number;
      shardCount: number;
      nodes: { node: string; alive: boolean; stores: number; shards: number }[];
      shards: { node: string | null; epoch: number }[];
    };
    // A hub started after one was killed takes the shards once the dead node's leases run out.
    let view: View | undefined;
    await vi.waitFor(
      async () => {
        const seen = (await get(hub, '/v1/cluster')).body as View;
        expect(seen.nodes.filter((node) => node.alive).map((node) => node.node)).toEqual([seen.node]);
        expect(seen.shards.every((shard) => shard.node === seen.node && shard.epoch > 0)).toBe(true);
        expect(seen.stores).toBe(STORES.length);
        // Per node: the answering one's sessions and every shard; a dead node's none.
        for (const node of seen.nodes) {
          const mine = node.node === seen.node;
          expect([node.node, node.stores, node.shards]).toEqual([
            node.node,
            mine ? STORES.length : 0,
            mine ? seen.shardCount : 0,
          ]);
        }
        view = seen;
      },
      { timeout: 20_000, interval: 100 },
    );
    if (view === undefined) throw new Error('no cluster view');
    expect(view.mode).toBe('postgresql');
    expect(view.shards).toHaveLength(view.shardCount);
    const metrics = await fetch(`${hub}/metrics`).then((res) => res.text());
    expect(metrics).toMatch(new RegExp(`^shelfsync_shard_leases_owned(\\{[^}]*\\})? ${view.shardCount}$`, 'm'));
    // The other nodes learn this one's sessions from its heartbeats.
    const { node } = view;
    const db = new pg.Client({ connectionString: server.url });
    await db.connect();
    try {
      await vi.waitFor(
        async () => {
          const { rows } = await db.query(`SELECT stores FROM ${HUB_NODES_TABLE} WHERE node = $1`, [node]);
          expect(rows).toEqual([{ stores: STORES.length }]);
        },
        { timeout: 5_000, interval: 100 },
      );
    } finally {
      await db.end();
    }
    // Alone on its database the node hears no other node's change, but the feed's lag is exported.
    expect(metrics).toMatch(/^shelfsync_change_feed_lag_seconds_count(\{[^}]*\})? 0$/m);
  }, 30_000);

  it('refuses a --database that is no PostgreSQL URL before opening anything', async () => {
    const run = await runAnotherHub('mysql://127.0.0.1/db');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('a PostgreSQL URL: postgres://USER@HOST:PORT/DB');
  }, 60_000);
});
