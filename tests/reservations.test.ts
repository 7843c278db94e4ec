import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, eventually, get, post } from './support/cluster.js';

interface Location {
  location: string;
  posRights: number;
  onlineRights: number;
  reserved: number;
}

describe('online reservations at the hub', () => {
  // An online floor of 10 and no release asked of the store: 10 of the 12 units sit in the escrow, so
  // these tests see the escrow alone (the release path is tests/escrow.test.ts). The TTL outlasts the
  // tests however slow the machine (the expiry test runs its own chain with a short one).
  const flags = (ttlMs: number) => [
    '--reservation-ttl-ms',
    String(ttlMs),
    '--escrow-online-floor',
    '10',
    '--reservation-release-wait-ms',
    '0',
  ];
  const cluster = new Cluster({ hubFlags: flags(600_000) });
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${cluster.apiToken}` });
  const hub = (): string => cluster.hub?.url ?? '';
  const location = async (sku: string): Promise<Location | undefined> =>
    ((await get(hub(), `/v1/skus/${sku}`)).body.locations as Location[] | undefined)?.find(
      (l) => l.location === 'north',
    );
  const reserve = (body: unknown, key?: string, headers = auth()) =>
    post(hub(), '/v1/reservations', body, key, headers);

  const wonIds: string[] = [];

  beforeAll(async () => {
    await cluster.startHub();
    await cluster.startStore('north');
    // 12 received: the escrow keeps its floor of 10, the POS the other 2.
    expect(
      (await post(cluster.store('north'), '/v1/receipts', { sku: 'TENT-1', quantity: 12 }, 'tent-in')).status,
    ).toBe(201);
    await eventually(() => location('TENT-1'), { posRights: 2, onlineRights: 10 });
  }, 60_000);
  afterAll(() => cluster.stop(), 30_000);

  it('needs the API token', async () => {
    expect((await reserve({ sku: 'TENT-1', quantity: 1 }, undefined, {})).body).toMatchObject({
      status: 401,
      code: 'UNAUTHORIZED',
    });
    const forged = await reserve({ sku: 'TENT-1', quantity: 1 }, undefined, { authorization: 'Bearer not-the-token' });
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toContain('Bearer');
  });

  it('refuses bad input with 400 problems, changing nothing', async () => {
    for (const body of [
      { sku: 'TENT-1', quantity: 0 },
      { sku: 'TENT-1', quantity: 1, extra: true },
      { sku: 'bad sku', quantity: 1 },
      { sku: 'TENT-1', quantity: 1, storeId: 'dc' },
    ]) {
      const res = await reserve(body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED' });
    }
    expect((await post(hub(), '/v1/reservations/nope/confirm', {}, undefined, auth())).status).toBe(400);
    expect(await location('TENT-1')).toMatchObject({ onlineRights: 10, reserved: 0 });
  });

  it('200 concurrent requests for 10 escrowed units, the store cut off: exactly 10 succeed, the rest are told what is left', async () => {
    // Cut off, the store cannot be asked to release: the escrow holds exactly 10, and the till keeps its 2.
    const link = (state: 'cut' | 'restored') =>
      post(hub(), '/v1/admin/stores/north/link', { state }, undefined, auth());
    expect((await link('cut')).status).toBe(200);
    await eventually(async () => (await get(cluster.store('north'), '/v1/status')).body, {
      hub: { connected: false },
    });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => reserve({ sku: 'TENT-1', quantity: 1, storeId: 'north' }, `rush-${i}`)),
    );
    const won = results.filter((r) => r.status === 201);
    expect(won).toHaveLength(10);
    wonIds.push(...won.map((r) => String(r.body.id)));
    expect(new Set(won.map((r) => r.body.id)).size).toBe(10);
    for (const lost of results.filter((r) => r.status !== 201)) {
      expect(lost.status).toBe(409);
      expect(lost.body).toMatchObject({ code: 'INSUFFICIENT_STOCK', details: { available: 0 } });
    }
    expect(await location('TENT-1')).toMatchObject({ onlineRights: 0, reserved: 10, posRights: 2 });
    // The store's own rights were never touched: cut off, it still sells.
    expect((await post(cluster.store('north'), '/v1/sales', { sku: 'TENT-1', quantity: 1 }, 'tent-sale')).status).toBe(
      201,
    );
    expect((await link('restored')).status).toBe(200);

    // A retry with the same key gets the same reservation back.
    const again = await reserve({ sku: 'TENT-1', quantity: 1, storeId: 'north' }, 'rush-0');
    expect(again.body.id).toBe(results[0]?.body.id);
    if (results[0]?.status === 201) expect(again.headers.get('idempotent-replayed')).toBe('true');
  });

  it('confirm and cancel close a reservation once; cancelled units go back on sale', async () => {
    // Reserved units are committed: 12 received, 10 reserved, 1 sold.
    await eventually(async () => (await get(hub(), '/v1/skus/TENT-1')).body, { available: 1 });

    // Free one unit by cancelling a won reservation, then take it again and confirm it.
    const id = wonIds[0] ?? '';
    const cancelled = await post(hub(), `/v1/reservations/${id}/cancel`, {}, undefined, auth());
    expect(cancelled.body).toMatchObject({ id, state: 'cancelled' });
    expect((await post(hub(), `/v1/reservations/${id}/cancel`, {}, undefined, auth())).body).toMatchObject({
      state: 'cancelled',
    });
    expect((await post(hub(), `/v1/reservations/${id}/confirm`, {}, undefined, auth())).body).toMatchObject({
      status: 409,
      code: 'RESERVATION_CLOSED',
    });
    expect(await location('TENT-1')).toMatchObject({ reserved: 9 });
    expect((await location('TENT-1'))?.onlineRights).toBeGreaterThanOrEqual(1);
    expect((await get(hub(), '/v1/skus/TENT-1')).body).toMatchObject({ available: 2 });

    const next = await reserve({ sku: 'TENT-1', quantity: 1 }, 'after-cancel');
    expect(next.status).toBe(201);
    expect(next.headers.get('location')).toBe(`/v1/reservations/${String(next.body.id)}`);
    const confirmed = await post(hub(), `/v1/reservations/${String(next.body.id)}/confirm`, {}, undefined, auth());
    expect(confirmed.body).toMatchObject({ state: 'confirmed', location: 'north' });
    expect((await get(hub(), `/v1/reservations/${String(next.body.id)}`, auth())).body).toMatchObject({
      state: 'confirmed',
    });
    expect((await get(hub(), '/v1/reservations/r_AAAAAAAAAAAAAAAAAAAAAA', auth())).status).toBe(404);
  });

  it('unconfirmed reservations expire after their TTL, also across a hub restart, and their units come back', async () => {
    const short = new Cluster({ hubFlags: flags(6_000) });
    try {
      await short.startHub();
      await short.startStore('north');
      await expireAcrossRestart(short);
    } finally {
      await short.stop();
    }
  }, 60_000);

  async function expireAcrossRestart(chain: Cluster): Promise<void> {
    const hub = (): string => chain.hub?.url ?? '';
    const auth = (): Record<string, string> => ({ authorization: `Bearer ${chain.apiToken}` });
    const location = async (sku: string): Promise<Location | undefined> =>
      ((await get(hub(), `/v1/skus/${sku}`)).body.locations as Location[] | undefined)?.find(
        (l) => l.location === 'north',
      );
    const store = chain.store('north');
    expect((await post(store, '/v1/receipts', { sku: 'LAMP-9', quantity: 7 }, 'lamp-in')).status).toBe(201);
    await eventually(() => location('LAMP-9'), { posRights: 2, onlineRights: 5 });
    const r = await post(hub(), '/v1/reservations', { sku: 'LAMP-9', quantity: 3, storeId: 'north' }, 'lamp-r', auth());
    expect(r.body).toMatchObject({ state: 'held', quantity: 3 });
    // The order took 3 of the escrow; the allocator may move the till's rights toward it since (online demand grew).
    const held = await location('LAMP-9');
    expect(held?.reserved).toBe(3);
    expect((held?.posRights ?? 0) + (held?.onlineRights ?? 0)).toBe(4);

    // Killed before the TTL runs out (or just after: either way the expiry is rebuilt from the stored record on start).
    await chain.killHub();
    await chain.startHub();
    await eventually(
      async () => (await get(hub(), `/v1/reservations/${String(r.body.id)}`, auth())).body,
      { state: 'expired' },
      30_000,
    );
    const back = await location('LAMP-9');
    expect(back?.reserved).toBe(0);
    expect((back?.posRights ?? 0) + (back?.onlineRights ?? 0)).toBe(7);
    await eventually(async () => (await get(store, '/v1/skus/LAMP-9')).body, { onShelf: 7, available: 7 });
  }
});
