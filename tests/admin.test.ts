import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, eventually, get, post } from './support/cluster.js';

interface Link {
  storeId: string;
  connected: boolean;
  cut: boolean;
  pendingUpdates: number;
  syncLagMs: number;
}

describe('admin: cutting and restoring a store link at the hub', () => {
  // Exact rights: every unit stays at the store that received it.
  const cluster = new Cluster({ escrow: 'off' });
  const hub = (): string => cluster.hub?.url ?? '';
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${cluster.apiToken}` });
  const link = async (storeId: string): Promise<Link | undefined> =>
    ((await get(hub(), '/v1/stores')).body.stores as Link[]).find((l) => l.storeId === storeId);

  beforeAll(async () => {
    await cluster.startHub();
    await cluster.startStore('north');
    await cluster.startStore('south');
    expect((await post(cluster.store('north'), '/v1/receipts', { sku: 'MUG-1', quantity: 10 }, 'in')).status).toBe(201);
    await eventually(async () => (await get(hub(), '/v1/skus/MUG-1')).body, { available: 10 });
  }, 60_000);
  afterAll(() => cluster.stop(), 30_000);

  it('needs the API token, a strict body and a store the hub knows', async () => {
    const path = '/v1/admin/stores/north/link';
    const unauthorized = await post(hub(), path, { state: 'cut' });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('www-authenticate')).toContain('Bearer');
    expect(
      (await post(hub(), path, { state: 'cut' }, undefined, { authorization: 'Bearer wrong-0123456789' })).status,
    ).toBe(401);
    for (const body of [{}, { state: 'down' }, { state: 'cut', extra: 1 }, ['cut'], null]) {
      const res = await post(hub(), path, body, undefined, auth());
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED' });
    }
    expect((await post(hub(), '/v1/admin/stores/a%20b/link', { state: 'cut' }, undefined, auth())).status).toBe(400);
    const unknown = await post(hub(), '/v1/admin/stores/nowhere/link', { state: 'cut' }, undefined, auth());
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toContain('application/problem+json');
    // Nothing above cut anything.
    expect(await link('north')).toMatchObject({ connected: true, cut: false });
  });

  it('a cut store is refused until restored, sells from its local rights meanwhile, then catches up', async () => {
    const cut = await post(hub(), '/v1/admin/stores/north/link', { state: 'cut' }, undefined, auth());
    expect(cut.status).toBe(200);
    expect(cut.body).toEqual({ storeId: 'north', state: 'cut', connected: false });
    expect(await link('north')).toMatchObject({ connected: false, cut: true });
    await eventually(async () => (await get(cluster.store('north'), '/v1/status')).body, { hub: { connected: false } });

    // Cut off, the store sells from its own rights; the hub does not see it.
    const sale = await post(cluster.store('north'), '/v1/sales', { sku: 'MUG-1', quantity: 4 }, 'cut-sale');
    expect(sale.status).toBe(201);
    expect(sale.body).toMatchObject({ rights: 6 });
    // Its retries (several by now, backing off from ~125 ms) are refused while cut: the hub's view of it grows stale.
    await eventually(async () => ((await link('north'))?.syncLagMs ?? 0) > 1_000, true);
    expect(await link('north')).toMatchObject({ connected: false, cut: true });
    expect((await get(hub(), '/v1/skus/MUG-1')).body.available).toBe(10);

    const restored = await post(hub(), '/v1/admin/stores/north/link', { state: 'restored' }, undefined, auth());
    expect(restored.status).toBe(200);
    expect(restored.body).toMatchObject({ storeId: 'north', state: 'restored' });
    await eventually(async () => (await get(hub(), '/v1/skus/MUG-1')).body, { available: 6 }, 20_000);
    await eventually(() => link('north'), { connected: true, cut: false, pendingUpdates: 0, syncLagMs: 0 });
    // south carries no MUG-1 and holds none of its document: its console reads the chain's units from the hub's summary.
    await eventually(async () => (await get(cluster.store('south'), '/v1/skus/MUG-1')).body, {
      rights: 0,
      onShelf: 0,
      available: 6,
      availableAsOf: expect.any(String) as unknown,
    });
    expect((await get(cluster.store('south'), '/v1/skus/MUG-1/ledger')).status).toBe(404);
  });

  it('the chain summary counts POS sales by minute from the merged documents', async () => {
    const before = (await get(hub(), '/v1/summary')).body as { minutes: { sold: number }[] };
    const soldBefore = before.minutes.reduce((n, m) => n + m.sold, 0);
    expect((await post(cluster.store('south'), '/v1/receipts', { sku: 'TEA-1', quantity: 5 }, 's-in')).status).toBe(
      201,
    );
    await eventually(async () => (await get(hub(), '/v1/skus/TEA-1')).body, { available: 5 });
    expect((await post(cluster.store('south'), '/v1/sales', { sku: 'TEA-1', quantity: 2 }, 's-sale')).status).toBe(201);
    await eventually(async () => {
      const summary = (await get(hub(), '/v1/summary')).body as { minutes: { sold: number }[] };
      return summary.minutes.reduce((n, m) => n + m.sold, 0) - soldBefore;
    }, 2);
    const summary = (await get(hub(), '/v1/summary')).body as { minutes: unknown[]; refusedWithChainStock: unknown[] };
    expect(summary.minutes).toHaveLength(30);
  });
});
