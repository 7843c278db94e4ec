import { forge } from '@shelfsync/core/testing';
import { ErrorCode, StoreIdSchema, storeAccount } from '@shelfsync/protocol';
import { SyncMessageType, encodeDocFrame } from '@shelfsync/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Cluster, eventually, get, post } from './support/cluster.js';
import { RawStoreClient } from './support/raw-client.js';

const stock = async (base: string, sku: string) => (await get(base, `/v1/skus/${sku}`)).body;

/**
 * The store and hub processes' real edges: the POS routes, keys, problem+json,
 * tokens and the socket, restarts from disk. Selling through a hub outage and
 * converging after it runs in one process: packages/point-of-sale/test/replica-chain.test.ts.
 */
describe('hub and stores as real processes', () => {
  // Counts a store's rights exactly: the allocator stays off (tests/escrow.test.ts runs it).
  const cluster = new Cluster({ escrow: 'off' });

  beforeAll(async () => {
    await cluster.startHub();
    await Promise.all([cluster.startStore('north'), cluster.startStore('south')]);
  }, 60_000);
  afterAll(() => cluster.stop(), 30_000);

  it('a sale at a store is visible at the hub and at the other store', async () => {
    const north = cluster.store('north');
    expect((await post(north, '/v1/receipts', { sku: 'MUG-1', quantity: 10 }, 'r-1')).status).toBe(201);
    const sale = await post(north, '/v1/sales', { sku: 'MUG-1', quantity: 3 }, 's-1');
    expect(sale).toMatchObject({
      status: 201,
      body: { operation: 'sell', sku: 'MUG-1', quantity: 3, rights: 7, available: 7 },
    });
    await eventually(() => stock(cluster.hub?.url ?? '', 'MUG-1'), { available: 7 });
    await post(cluster.store('south'), '/v1/receipts', { sku: 'MUG-1', quantity: 5 }, 'r-2');
    await eventually(() => stock(north, 'MUG-1'), { available: 12, rights: 7 });
    await eventually(() => stock(cluster.store('south'), 'MUG-1'), { available: 12, rights: 5 });
    await eventually(() => stock(cluster.hub?.url ?? '', 'MUG-1'), { available: 12 });
  });

  it('the same Idempotency-Key retried 5 times applies once', async () => {
    const south = cluster.store('south');
    await post(south, '/v1/receipts', { sku: 'TEA-1', quantity: 20 }, 'tea-in');
    const answers = [];
    for (let i = 0; i < 5; i++)
      answers.push(await post(south, '/v1/sales', { sku: 'TEA-1', quantity: 2 }, 'tea-sale-1'));
    expect(answers.map((a) => a.status)).toEqual([201, 201, 201, 201, 201]);
    expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).toBe(1);
    expect(answers.slice(1).every((a) => a.headers.get('idempotent-replayed') === 'true')).toBe(true);
    expect(await stock(south, 'TEA-1')).toMatchObject({ rights: 18 });
    await eventually(() => stock(cluster.hub?.url ?? '', 'TEA-1'), { available: 18 });
    const reused = await post(south, '/v1/sales', { sku: 'TEA-1', quantity: 3 }, 'tea-sale-1');
    expect(reused).toMatchObject({ status: 422, body: { code: ErrorCode.IdempotencyKeyReused } });
  });

  it('bad input gets a coded problem+json, and nothing is applied', async () => {
    const north = cluster.store('north');
    const cases = [
      { sku: 'MUG-1', quantity: 0 },
      { sku: 'MUG-1', quantity: 1.5 },
      { sku: '-bad', quantity: 1 },
      { sku: 'MUG-1', quantity: 1, extra: true },
      { quantity: 1 },
    ];
    const before = await stock(north, 'MUG-1');
    for (const body of cases) {
      const res = await fetch(`${north}/v1/sales`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(await res.json()).toMatchObject({ code: ErrorCode.ValidationFailed, status: 400 });
    }
    const notJson = await fetch(`${north}/v1/sales`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    });
    expect(notJson.status).toBe(415);
    expect((await get(north, '/v1/skus/NOPE-1')).status).toBe(404);
    expect(await stock(north, 'MUG-1')).toEqual({ ...before, lastSyncedAt: expect.anything() as unknown });
  });

  it('a wrong or missing token cannot connect', async () => {
    const url = `ws://127.0.0.1:${cluster.hubPort}/v1/sync`;
    const attempt = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(url, { headers });
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.on('open', () => {
          resolve(101);
          ws.terminate();
        });
        ws.on('error', () => {});
      });
    expect(await attempt({})).toBe(401);
    expect(await attempt({ Authorization: 'Bearer nonsense' })).toBe(401);
    const otherSecret = cluster.token('north').replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect(await attempt({ Authorization: `Bearer ${otherSecret}` })).toBe(401);
    // A token of its own: one of north's would replace north's session (4409), and north would then wait long.
    expect(await attempt({ Authorization: `Bearer ${cluster.token('probe')}` })).toBe(101);
  });

  it('forged updates over the real socket are refused with coded errors and leave the hub unchanged', async () => {
    const hubUrl = cluster.hub?.url ?? '';
    const mallory = StoreIdSchema.parse('mallory');
    const client = await RawStoreClient.connect(cluster.hubPort, mallory, cluster.token('mallory'));
    try {
      const doc = await client.fetchDoc('MUG-1');
      client.sendOperation('MUG-1', doc, { type: 'receive', account: storeAccount(mallory), quantity: 1 }, 1);
      await client.waitFor((f) => f.kind === 'control' && f.message.type === 'ack' && f.message.ref === 1);
      await eventually(() => stock(hubUrl, 'MUG-1'), { available: 13 });
      const before = await stock(hubUrl, 'MUG-1');

      const expected = {
        foreignKey: ErrorCode.UpdateForeignEntry,
        deleteForeign: ErrorCode.UpdateForeignEntry,
        decreaseTotal: ErrorCode.UpdateDecreasingTotal,
        overdraw: ErrorCode.UpdateOverdrawn,
        garbage: undefined,
      } as const;
      let ref = 10;
      for (const [kind, code] of Object.entries(expected) as [keyof typeof expected, ErrorCode | undefined][]) {
        ref++;
        client.sendRaw(
          encodeDocFrame(
            'MUG-1',
            ref,
            SyncMessageType.Update,
            forge(doc, kind, ref, { attacker: 'mallory', victim: 'north' }),
          ),
        );
        const error = await client.waitFor(
          (f) => f.kind === 'control' && f.message.type === 'error' && f.message.ref === ref,
        );
        if (error.kind !== 'control' || error.message.type !== 'error') throw new Error('not an error');
        if (code !== undefined) expect(error.message.code, kind).toBe(code);
        else expect(error.message.code, kind).toMatch(/^UPDATE_/);
      }
      expect({ ...(await stock(hubUrl, 'MUG-1')), updatedAt: null }).toEqual({ ...before, updatedAt: null });
      const links = (await get(hubUrl, '/v1/stores')).body.stores as { storeId: string; rejectedUpdates: number }[];
      expect(links.find((l) => l.storeId === 'mallory')).toMatchObject({ rejectedUpdates: 5 });
    } finally {
      client.close();
    }
  });

  it('a clean restart of a store or the hub loses nothing', async () => {
    const before = await stock(cluster.store('south'), 'TEA-1');
    await cluster.stores.get('south')?.stop();
    await cluster.startStore('south');
    expect(await stock(cluster.store('south'), 'TEA-1')).toMatchObject({
      rights: before.rights,
      available: before.available,
    });
    await eventually(() => get(cluster.store('south'), '/v1/status').then((r) => r.body), {
      hub: { connected: true, caughtUp: true },
    });

    await cluster.stopHub();
    await cluster.startHub();
    await eventually(() => stock(cluster.hub?.url ?? '', 'TEA-1'), { available: before.available });
    // After both restarts, a new sale still flows store -> hub -> other store.
    await post(cluster.store('south'), '/v1/sales', { sku: 'TEA-1', quantity: 1 }, 'tea-after-restart');
    await post(cluster.store('north'), '/v1/receipts', { sku: 'TEA-1', quantity: 1 }, 'tea-north');
    await eventually(() => stock(cluster.store('north'), 'TEA-1'), { available: Number(before.available) });
    await eventually(() => stock(cluster.hub?.url ?? '', 'TEA-1'), { available: Number(before.available) });
  }, 60_000);
});
