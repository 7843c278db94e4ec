import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, eventually, get, post } from './support/cluster.js';

interface Location {
  location: string;
  posRights: number;
  onlineRights: number;
  reserved: number;
}

/**
 * The reservation routes' real edges: the API token, input validation, keys,
 * statuses and headers. What reservations do (a rush for the last units, confirm,
 * cancel, expiry across a hub restart) runs in one process:
 * packages/point-of-sale/test/reservations-chain.test.ts.
 */
describe('online reservations at the hub', () => {
  // An online floor of 10 and no release asked of the store: 10 of the 12 units sit in the escrow, so
  // these tests see the escrow alone (the release path is tests/escrow.test.ts). The TTL outlasts the
  // tests however slow the machine.
  const cluster = new Cluster({
    hubFlags: ['--reservation-ttl-ms', '600000', '--escrow-online-floor', '10', '--reservation-release-wait-ms', '0'],
  });
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${cluster.apiToken}` });
  const hub = (): string => cluster.hub?.url ?? '';
  const location = async (sku: string): Promise<Location | undefined> =>
    ((await get(hub(), `/v1/skus/${sku}`)).body.locations as Location[] | undefined)?.find(
      (l) => l.location === 'north',
    );
  const reserve = (body: unknown, key?: string, headers = auth()) =>
    post(hub(), '/v1/reservations', body, key, headers);

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

  it('the reservation routes over HTTP: a key replays, a refusal is a 409 problem, a close answers once', async () => {
    const made = await reserve({ sku: 'TENT-1', quantity: 1, storeId: 'north' }, 'tent-r-1');
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ sku: 'TENT-1', location: 'north', quantity: 1, state: 'held' });
    const id = String(made.body.id);
    expect(made.headers.get('location')).toBe(`/v1/reservations/${id}`);
    // A retry with the same key gets the same reservation back, and takes nothing more.
    const again = await reserve({ sku: 'TENT-1', quantity: 1, storeId: 'north' }, 'tent-r-1');
    expect(again.body.id).toBe(id);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await location('TENT-1')).toMatchObject({ onlineRights: 9, reserved: 1 });
    // More than the escrow holds (the store is not asked to release): refused, and told what is left.
    const refused = await reserve({ sku: 'TENT-1', quantity: 10, storeId: 'north' }, 'tent-r-2');
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.body).toMatchObject({ code: 'INSUFFICIENT_STOCK', details: { available: 9 } });

    const cancel = () => post(hub(), `/v1/reservations/${id}/cancel`, {}, undefined, auth());
    expect((await cancel()).body).toMatchObject({ id, state: 'cancelled' });
    expect((await cancel()).body).toMatchObject({ state: 'cancelled' });
    expect((await post(hub(), `/v1/reservations/${id}/confirm`, {}, undefined, auth())).body).toMatchObject({
      status: 409,
      code: 'RESERVATION_CLOSED',
    });
    expect(await location('TENT-1')).toMatchObject({ onlineRights: 10, reserved: 0 });

    const next = await reserve({ sku: 'TENT-1', quantity: 1 }, 'tent-r-3');
    expect(next.status).toBe(201);
    const confirmed = await post(hub(), `/v1/reservations/${String(next.body.id)}/confirm`, {}, undefined, auth());
    expect(confirmed.body).toMatchObject({ state: 'confirmed', location: 'north' });
    expect((await get(hub(), `/v1/reservations/${String(next.body.id)}`, auth())).body).toMatchObject({
      state: 'confirmed',
    });
    expect((await get(hub(), '/v1/reservations/r_AAAAAAAAAAAAAAAAAAAAAA', auth())).status).toBe(404);
  });
});
