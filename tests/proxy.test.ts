import { startCommand, type ChildCommand } from '@shelfsync/cli';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, eventually, get, post } from './support/cluster.js';

describe('shelfsync proxy between a store and the hub, driven over its control API', () => {
  const cluster = new Cluster({ escrow: 'off' });
  let proxy: ChildCommand | null = null;
  let control = '';
  beforeAll(async () => {
    await cluster.startHub();
    proxy = await startCommand(['proxy', '--port', '0', '--target', String(cluster.hubPort), '--control-port', '0'], {
      nodeArgs: ['--import', 'tsx'],
      env: { SHELFSYNC_LOG_LEVEL: 'warn' },
    });
    control = /control on (http:\/\/\S+)\)/.exec(proxy.line)?.[1] ?? '';
    await cluster.startStore('west', { hubPort: Number(new URL(proxy.url).port) });
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
    await cluster.stop();
  }, 30_000);

  it('cuts and restores the link: the store sells offline, then converges', async () => {
    expect(control).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const west = cluster.store('west');
    const hub = cluster.hub?.url ?? '';
    expect((await post(west, '/v1/receipts', { sku: 'ROPE-1', quantity: 5 }, 'rope-in')).status).toBe(201);
    await eventually(async () => (await get(hub, '/v1/skus/ROPE-1')).body, { available: 5 });

    expect((await post(control, '/partition', {})).body).toMatchObject({ state: 'reset' });
    await eventually(async () => (await get(west, '/v1/status')).body, { hub: { connected: false } });
    expect((await post(west, '/v1/sales', { sku: 'ROPE-1', quantity: 2 }, 'rope-sale')).status).toBe(201);
    expect((await get(hub, '/v1/skus/ROPE-1')).body).toMatchObject({ available: 5 });

    expect((await post(control, '/degrade', { latencyMs: 20, jitterMs: 5 })).body).toMatchObject({ latencyMs: 20 });
    expect((await post(control, '/degrade', { latencyMs: -1 })).status).toBe(400);
    expect((await post(control, '/restore', {})).body).toMatchObject({ state: 'up' });
    await eventually(async () => (await get(hub, '/v1/skus/ROPE-1')).body, { available: 3 }, 30_000);
    expect((await get(control, '/status')).body).toMatchObject({ state: 'up', connections: 1 });
  }, 60_000);
});

/** A port free right now on loopback (the hub takes it next; nothing else here binds ports). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe("the hub's admin API drives the fault proxy in front of a store's link", () => {
  let cluster: Cluster | null = null;
  let proxy: ChildCommand | null = null;
  beforeAll(async () => {
    const hubPort = await freePort();
    proxy = await startCommand(['proxy', '--port', '0', '--target', String(hubPort), '--control-port', '0'], {
      nodeArgs: ['--import', 'tsx'],
      env: { SHELFSYNC_LOG_LEVEL: 'warn' },
    });
    const control = /control on (http:\/\/\S+)\)/.exec(proxy.line)?.[1] ?? '';
    cluster = new Cluster({ escrow: 'off', hubFlags: ['--fault-proxies', `east=${control}`] });
    cluster.hubPort = hubPort;
    await cluster.startHub();
    await cluster.startStore('east', { hubPort: Number(new URL(proxy.url).port) });
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
    await cluster?.stop();
  }, 30_000);

  it('partitions, lags and restores the link with the API token; refuses without it and for stores with no proxy', async () => {
    if (cluster === null) throw new Error('no cluster');
    const hub = cluster.hub?.url ?? '';
    const east = cluster.store('east');
    const auth = { authorization: `Bearer ${cluster.apiToken}` };
    const faults = '/v1/admin/stores/east/faults';
    await eventually(async () => (await get(east, '/v1/status')).body, { hub: { connected: true } });
    expect((await get(hub, faults, auth)).body).toEqual({
      storeId: 'east',
      state: 'up',
      connections: 1,
      latencyMs: 0,
      jitterMs: 0,
      bandwidth: 0,
    });

    expect((await post(hub, faults, { action: 'partition' })).status).toBe(401);
    expect((await post(hub, faults, { action: 'partition' }, undefined, auth)).body).toMatchObject({ state: 'reset' });
    await eventually(async () => (await get(east, '/v1/status')).body, { hub: { connected: false } });
    expect((await post(east, '/v1/receipts', { sku: 'TAPE-1', quantity: 4 }, 'tape-in')).status).toBe(201);

    const lag = await post(hub, faults, { action: 'degrade', latencyMs: 30, jitterMs: 10 }, undefined, auth);
    expect(lag.body).toMatchObject({ state: 'reset', latencyMs: 30, jitterMs: 10 });
    expect((await post(hub, faults, { action: 'degrade', latencyMs: -5 }, undefined, auth)).status).toBe(400);
    expect((await post(hub, faults, { action: 'explode' }, undefined, auth)).status).toBe(400);
    expect((await post(hub, faults, { action: 'restore' }, undefined, auth)).body).toMatchObject({ state: 'up' });
    // Healed (through 30 ms of lag): the receipt made while cut off reaches the hub.
    await eventually(async () => (await get(hub, '/v1/skus/TAPE-1')).body, { available: 4 }, 30_000);

    const none = await post(hub, '/v1/admin/stores/west/faults', { action: 'hold' }, undefined, auth);
    expect(none.status).toBe(404);
    expect(none.body).toMatchObject({ code: 'NOT_FOUND' });
  }, 60_000);
});
