import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Cluster, eventually, get, post } from './support/cluster.js';

const SALES = 1000;
const STOCK = 100_000;

/** Sends the sales with these keys, `concurrency` at a time, adding every key answered 201 to `acked`. */
async function sellAll(base: () => string, keys: number[], concurrency: number, acked: Set<number>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const i = keys[next++] as number;
      try {
        const res = await post(base(), '/v1/sales', { sku: 'CRASH-1', quantity: 1 }, `crash-sale-${i}`);
        if (res.status === 201) acked.add(i);
      } catch {
        // The store died under this request: its outcome is unknown, the client will retry.
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

describe('kill -9 of a store during a burst of sales', () => {
  // Counts a store's rights exactly: the allocator stays off (tests/escrow.test.ts runs it).
  const cluster = new Cluster({ escrow: 'off' });
  beforeAll(async () => {
    await cluster.startHub();
    await cluster.startStore('north');
  }, 60_000);
  afterAll(() => cluster.stop(), 30_000);

  it('every acknowledged sale survives, and retries with the same keys apply each sale exactly once', async () => {
    expect(
      (await post(cluster.store('north'), '/v1/receipts', { sku: 'CRASH-1', quantity: STOCK }, 'crash-stock')).status,
    ).toBe(201);
    const acked = new Set<number>();
    const killAfter = 150 + Math.floor(Math.random() * 500);
    const keys = Array.from({ length: SALES }, (_, i) => i);
    const burst = sellAll(() => cluster.store('north'), keys, 8, acked);
    await vi.waitFor(() => expect(acked.size).toBeGreaterThanOrEqual(killAfter), { timeout: 60_000, interval: 5 });
    await cluster.killStore('north');
    await burst;
    const ackedBeforeCrash = acked.size;
    expect(ackedBeforeCrash).toBeGreaterThanOrEqual(killAfter);
    expect(ackedBeforeCrash).toBeLessThan(SALES);

    await cluster.startStore('north');
    // Every acknowledged sale is there: the store shows at most STOCK - acked rights.
    const afterRestart = (await get(cluster.store('north'), '/v1/skus/CRASH-1')).body;
    expect(Number(afterRestart.rights)).toBeLessThanOrEqual(STOCK - ackedBeforeCrash);

    // The POS retries everything with the same keys; each sale lands exactly once.
    await sellAll(() => cluster.store('north'), keys, 8, acked);
    expect(acked.size).toBe(SALES);
    expect((await get(cluster.store('north'), '/v1/skus/CRASH-1')).body).toMatchObject({ rights: STOCK - SALES });
    await eventually(
      async () => (await get(cluster.hub?.url ?? '', '/v1/skus/CRASH-1')).body,
      { available: STOCK - SALES },
      30_000,
    );
  }, 120_000);
});
