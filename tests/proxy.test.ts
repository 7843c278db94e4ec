import { startCommand, type ChildCommand } from '@shelfsync/cli';
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
