import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Cluster, eventually, get, post } from './support/cluster.js';

/** A real, small filesystem needs a tmpfs mount, which only a privileged user may make. */
function mountSmallDisk(): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsync-small-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
}

function unmountSmallDisk(dir: string): void {
  execFileSync('umount', [dir]);
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Probed when the file is collected and unmounted at once: collecting it (a
 * `vitest list`, a filtered run) must leave nothing mounted. The disk the test
 * uses is mounted in beforeAll.
 */
function canMountSmallDisk(): boolean {
  const probe = mountSmallDisk();
  if (probe === null) return false;
  unmountSmallDisk(probe);
  return true;
}

const mountable = canMountSmallDisk();

describe.skipIf(!mountable)('a store whose disk fills up', () => {
  // Counts a store's rights exactly: the allocator stays off (tests/escrow.test.ts runs it).
  const cluster = new Cluster({ escrow: 'off' });
  let disk: string | null = null;
  beforeAll(() => {
    disk = mountSmallDisk();
  });
  afterAll(async () => {
    await cluster.stop();
    if (disk !== null) unmountSmallDisk(disk);
  }, 30_000);

  it('refuses the sale it cannot store with 503 STORAGE_UNAVAILABLE, acknowledges nothing after, and loses nothing it acknowledged', async () => {
    if (disk === null) throw new Error('the small disk the probe could mount could not be mounted again');
    await cluster.startHub();
    const hub = cluster.hub?.url ?? '';
    const dataDir = join(disk, 'full');
    mkdirSync(dataDir);
    let store = await cluster.startStore('full', { dataDir });
    expect((await post(store.url, '/v1/receipts', { sku: 'PEN-1', quantity: 100_000 }, 'pen-in')).status).toBe(201);

    // Leave about 48 KiB: a few hundred journal records.
    const free = statfsSync(disk);
    const filler = join(disk, 'filler');
    writeFileSync(filler, Buffer.alloc(Math.max(0, free.bavail * free.bsize - 48 * 1024)));

    let acked = 0;
    let refused: Awaited<ReturnType<typeof post>> | null = null;
    for (let i = 0; i < 10_000 && refused === null; i++) {
      const sale = await post(store.url, '/v1/sales', { sku: 'PEN-1', quantity: 1 }, `pen-sale-${i}`);
      if (sale.status === 201) acked++;
      else refused = sale;
    }
    expect(acked).toBeGreaterThan(0);
    expect(refused?.status).toBe(503);
    expect(refused?.body).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    const failedKey = `pen-sale-${acked}`;

    // Nothing is acknowledged after the failure, reads included: memory may be ahead of the disk.
    const next = await post(store.url, '/v1/sales', { sku: 'PEN-1', quantity: 1 }, 'pen-after');
    expect(next.body).toMatchObject({ status: 503, code: 'STORAGE_UNAVAILABLE' });
    expect((await get(store.url, '/v1/skus/PEN-1')).status).toBe(503);
    expect((await get(store.url, '/readyz')).status).toBe(503);
    expect((await get(store.url, '/v1/status')).body).toMatchObject({ ready: false, storage: 'failed' });
    // The hub holds the acknowledged sales and not the refused one.
    await eventually(async () => (await get(hub, '/v1/skus/PEN-1')).body, { available: 100_000 - acked });

    // Space comes back; the store restarts from disk with every acknowledged sale.
    await cluster.killStore('full');
    rmSync(filler);
    store = await cluster.startStore('full', { dataDir });
    expect((await get(store.url, '/v1/skus/PEN-1')).body).toMatchObject({ rights: 100_000 - acked });
    const replay = await post(store.url, '/v1/sales', { sku: 'PEN-1', quantity: 1 }, 'pen-sale-0');
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    const retried = await post(store.url, '/v1/sales', { sku: 'PEN-1', quantity: 1 }, failedKey);
    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    await eventually(async () => (await get(hub, '/v1/skus/PEN-1')).body, { available: 100_000 - acked - 1 });
  }, 120_000);
});

describe.skipIf(!mountable)('a hub whose disk fills up', () => {
  let mountedHubDisk: string | null = null;
  let hubCluster: Cluster | null = null;
  beforeAll(() => {
    mountedHubDisk = mountSmallDisk();
    if (mountedHubDisk !== null) hubCluster = new Cluster({ escrow: 'off', hubDataDir: join(mountedHubDisk, 'hub') });
  });
  afterAll(async () => {
    await hubCluster?.stop();
    if (mountedHubDisk !== null) unmountSmallDisk(mountedHubDisk);
  }, 30_000);

  it('stops serving and syncing (503 STORAGE_UNAVAILABLE, stores cut off) while stores keep selling, and loses nothing after a restart', async () => {
    const cluster = hubCluster;
    const hubDisk = mountedHubDisk;
    if (cluster === null || hubDisk === null)
      throw new Error('the small disk the probe could mount could not be mounted again');
    let hub = await cluster.startHub();
    const store = await cluster.startStore('solo');
    expect((await post(store.url, '/v1/receipts', { sku: 'INK-1', quantity: 500 }, 'ink-in')).status).toBe(201);
    await eventually(async () => (await get(hub.url, '/v1/skus/INK-1')).body, { available: 500 });

    const free = statfsSync(hubDisk);
    const filler = join(hubDisk, 'filler');
    writeFileSync(filler, Buffer.alloc(Math.max(0, free.bavail * free.bsize - 16 * 1024)));
    // Sales go on at the store; the hub's journal fills up with them and fails.
    let sold = 0;
    await vi.waitFor(
      async () => {
        const sale = await post(store.url, '/v1/sales', { sku: 'INK-1', quantity: 1 }, `ink-sale-${sold}`);
        expect(sale.status).toBe(201);
        sold++;
        expect((await fetch(`${hub.url}/readyz`)).status).toBe(503);
      },
      { timeout: 60_000, interval: 10 },
    );
    const refused = await get(hub.url, '/v1/skus/INK-1');
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    expect((await get(hub.url, '/healthz')).status).toBe(200);
    await eventually(async () => (await get(store.url, '/v1/status')).body, { hub: { connected: false } });
    // The store sells on from its own rights, offline.
    const offline = await post(store.url, '/v1/sales', { sku: 'INK-1', quantity: 1 }, 'ink-offline');
    expect(offline.status).toBe(201);
    sold++;

    // Space comes back; a restarted hub recovers what is on disk and the store fills in the rest.
    await cluster.killHub();
    rmSync(filler);
    hub = await cluster.startHub();
    await eventually(async () => (await get(hub.url, '/v1/skus/INK-1')).body, { available: 500 - sold }, 30_000);
    await eventually(async () => (await get(store.url, '/v1/status')).body, {
      hub: { connected: true },
      pendingSync: 0,
    });
  }, 120_000);
});
