import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startBurst } from './support/burst.js';
import { Cluster, eventually, get, post } from './support/cluster.js';

const STORES = ['east', 'west', 'central'];
const STOCK = 10_000;

describe('kill -9 of the hub during a burst from three stores', () => {
  const cluster = new Cluster();
  beforeAll(async () => {
    await cluster.startHub();
    await Promise.all(STORES.map((id) => cluster.startStore(id)));
  }, 60_000);
  afterAll(() => cluster.stop(), 30_000);

  it('the hub comes back with every update it acknowledged, and converges with every store', async () => {
    for (const id of STORES) {
      expect(
        (await post(cluster.store(id), '/v1/receipts', { sku: `HC-${id}`, quantity: STOCK }, `hc-in-${id}`)).status,
      ).toBe(201);
    }
    await Promise.all(
      STORES.map((id) =>
        eventually(() => get(cluster.hub?.url ?? '', `/v1/skus/HC-${id}`).then((r) => r.body), { available: STOCK }),
      ),
    );

    const burst = startBurst(
      STORES.map((id) => ({ id, url: cluster.store(id), sku: `HC-${id}` })),
      'hc',
    );
    // Let the hub take a few hundred updates, then stop selling and kill the hub
    // while it still works through what the stores sent. No store changes these
    // SKUs afterwards, so anything the hub acknowledged and then lost would never
    // be sent again: it would show as stock the hub never converges to.
    await vi.waitFor(() => expect(burst.total()).toBeGreaterThan(400), {
      timeout: 60_000,
      interval: 10,
    });
    await burst.stop();
    await cluster.killHub();
    await cluster.startHub();

    for (const id of STORES) {
      const expected = STOCK - (burst.sold.get(id) ?? 0);
      await eventually(
        () => get(cluster.hub?.url ?? '', `/v1/skus/HC-${id}`).then((r) => r.body),
        { available: expected },
        30_000,
      );
      await eventually(
        () => get(cluster.store(id), `/v1/skus/HC-${id}`).then((r) => r.body),
        { onShelf: expected },
        30_000,
      );
    }
    // No store had an update refused after the restart: nothing the hub acknowledged went missing.
    const stores = (await get(cluster.hub?.url ?? '', '/v1/stores')).body.stores as {
      storeId: string;
      rejectedUpdates: number;
    }[];
    expect(stores.filter((s) => STORES.includes(s.storeId)).every((s) => s.rejectedUpdates === 0)).toBe(true);
  }, 120_000);
});
