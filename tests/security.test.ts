import { seededRandom } from '@shelfsync/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, eventually, get, post } from './support/cluster.js';

/** Bodies that no mutating endpoint may accept: each breaks the schema in one way. */
function hostileBodies(random: () => number): unknown[] {
  const huge = [Number.MAX_SAFE_INTEGER, 1_000_000_001, 1e21, 1e300];
  const badNumbers = [0, -1, -1e9, 1.5, Number.NaN, '3', true, null, [], {}, ...huge];
  const badSkus = ['', ' ', 'a b', 'x'.repeat(65), '../etc/passwd', 'émoji-☃', '-lead', 'MUG/1', 42, null, ['MUG-1']];
  const badStores = ['', 'dc', 'a b', 'x'.repeat(65), 7, null];
  const bodies: unknown[] = [null, 1, 'string', [], [1, 2], true];
  for (const quantity of badNumbers) {
    bodies.push({ sku: 'FUZZ-1', quantity }, { sku: 'FUZZ-1', counted: quantity === 0 ? -1 : quantity });
  }
  for (const sku of badSkus) bodies.push({ sku, quantity: 1 }, { sku, counted: 1 });
  for (const store of badStores) {
    bodies.push({ sku: 'FUZZ-1', quantity: 1, toStore: store }, { sku: 'FUZZ-1', quantity: 1, fromStore: store });
    bodies.push({ sku: 'FUZZ-1', quantity: 1, storeId: store });
  }
  bodies.push({}, { sku: 'FUZZ-1' }, { quantity: 1 }, { sku: 'FUZZ-1', quantity: 1, extra: 1 });
  bodies.push({ sku: 'FUZZ-1', quantity: 1, __proto__: { admin: true }, constructor: 'x' });
  // Random junk keys and values.
  for (let i = 0; i < 20; i++) {
    bodies.push({
      [`k${Math.floor(random() * 1e6)}`]: random() < 0.5 ? random() * -1e12 : 'x'.repeat(Math.floor(random() * 300)),
    });
  }
  // Seeded mutations of a valid request, each breaking it: negative, fractional or oversized amounts.
  for (let i = 0; i < 30; i++) {
    const roll = random();
    const quantity =
      roll < 0.33
        ? -1 - Math.floor(random() * 1e9)
        : roll < 0.66
          ? Math.floor(random() * 100) + 0.5
          : 1e9 + 1 + Math.floor(random() * 1e12);
    bodies.push({ sku: 'FUZZ-1', quantity, counted: quantity, toStore: 'west', fromStore: 'west' });
  }
  return bodies;
}

describe('hostile input, at every mutating endpoint of hub and store', () => {
  const cluster = new Cluster({
    escrow: 'off',
    hubFlags: ['--rate-limit', '5', '--rate-limit-burst', '5', '--cors-origins', 'https://shop.example'],
  });
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${cluster.apiToken}` });
  beforeAll(async () => {
    await cluster.startHub();
    await cluster.startStore('east');
    expect((await post(cluster.store('east'), '/v1/receipts', { sku: 'FUZZ-1', quantity: 50 }, 'fuzz-in')).status).toBe(
      201,
    );
    await eventually(async () => (await fetch(`${cluster.hub?.url ?? ''}/v1/skus/FUZZ-1`)).status, 200);
    // And the store has heard the hub's acknowledgement, or the snapshot below could catch it half way.
    await eventually(async () => (await get(cluster.store('east'), '/v1/skus/FUZZ-1')).body, { pendingSync: false });
  }, 60_000);
  afterAll(() => cluster.stop(), 30_000);

  it('1,000+ malformed or hostile requests: each a 4xx problem+json, none a 5xx, and stock unchanged', async () => {
    const hub = cluster.hub?.url ?? '';
    const store = cluster.store('east');
    // What the hostile requests must not change (times like lastSeen move on their own).
    const snapshot = async () => {
      const { rights, onShelf, available, pendingSync } = (await get(store, '/v1/skus/FUZZ-1')).body;
      const stores = (await get(hub, '/v1/stores')).body.stores as {
        storeId: string;
        rejectedUpdates: number;
        cut: boolean;
      }[];
      return {
        store: { rights, onShelf, available, pendingSync },
        hub: (await get(hub, '/v1/skus/FUZZ-1')).body.available,
        links: stores.map((s) => [s.storeId, s.rejectedUpdates, s.cut]),
      };
    };
    const before = await snapshot();
    const random = seededRandom(2026);
    const targets: { url: string; headers: Record<string, string> }[] = [
      ...['/v1/receipts', '/v1/sales', '/v1/returns', '/v1/adjustments', '/v1/transfers', '/v1/transfers/receive'].map(
        (path) => ({ url: `${store}${path}`, headers: {} }),
      ),
      { url: `${hub}/v1/reservations`, headers: auth() },
      // Every hostile body lacks a valid `state`: none may cut the store's link.
      { url: `${hub}/v1/admin/stores/east/link`, headers: auth() },
      // No fault proxy is registered here: hostile bodies are refused before that is looked up.
      { url: `${hub}/v1/admin/stores/east/faults`, headers: auth() },
    ];
    const kinds = new Map<number, number>();
    let sent = 0;
    const send = async (url: string, init: RequestInit): Promise<void> => {
      const res = await fetch(url, init);
      const text = await res.text();
      sent++;
      kinds.set(res.status, (kinds.get(res.status) ?? 0) + 1);
      if (res.status < 400 || res.status >= 500)
        throw new Error(
          `${init.method ?? 'GET'} ${url} ${typeof init.body === 'string' ? init.body.slice(0, 80) : ''} -> ${res.status} ${text}`,
        );
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const problem = JSON.parse(text) as { code?: unknown; status?: unknown; requestId?: unknown };
      expect(typeof problem.code).toBe('string');
      expect(problem.status).toBe(res.status);
      expect(text).not.toMatch(/\s+at\s.+\.ts:\d+/); // no stack traces
    };
    for (const target of targets) {
      for (const body of hostileBodies(random)) {
        await send(target.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': `fuzz-${sent}`, ...target.headers },
          body: JSON.stringify(body),
        });
      }
      const raw = [
        { body: '{"sku": "FUZZ-1", "quantity": 1', type: 'application/json' }, // truncated
        { body: "{'sku': 'FUZZ-1'}", type: 'application/json' },
        { body: 'sku=FUZZ-1&quantity=1', type: 'application/x-www-form-urlencoded' },
        { body: '{"sku":"FUZZ-1","quantity":1}', type: 'text/plain' },
        { body: JSON.stringify({ sku: 'FUZZ-1', quantity: 1, pad: 'x'.repeat(70 * 1024) }), type: 'application/json' },
        { body: '', type: 'application/json' },
        { body: '{"sku":"FUZZ-1","quantity":1e309}', type: 'application/json' }, // Infinity once parsed
        { body: '{"sku":"FUZZ-1","quantity":9007199254740993}', type: 'application/json' }, // 2^53 + 1
      ];
      for (const { body, type } of raw) {
        await send(target.url, { method: 'POST', headers: { 'content-type': type, ...target.headers }, body });
      }
      // Valid body, hostile headers.
      for (const key of ['', 'é', 'x'.repeat(201), 'a b']) {
        if (key === '') continue;
        await send(target.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key, ...target.headers },
          body: JSON.stringify({ sku: 'FUZZ-1', quantity: 1 }),
        });
      }
    }
    // Reservations without, or with forged, credentials; confirm and cancel of bad or unknown ids.
    for (const authorization of [
      '',
      'Bearer',
      'Bearer wrong-token-0123456789',
      `Basic ${cluster.apiToken}`,
      `Bearer ${cluster.apiToken}x`,
    ]) {
      for (const path of [
        '/v1/reservations',
        '/v1/reservations/r_AAAAAAAAAAAAAAAAAAAAAA/confirm',
        '/v1/admin/stores/east/link',
        '/v1/admin/stores/east/faults',
      ]) {
        await send(`${hub}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(authorization === '' ? {} : { authorization }) },
          body: JSON.stringify({ sku: 'FUZZ-1', quantity: 1 }),
        });
      }
    }
    for (const id of ['nope', 'r_short', '../../x', 'r_AAAAAAAAAAAAAAAAAAAAAA', 'r_' + 'Z'.repeat(22)]) {
      for (const action of ['confirm', 'cancel']) {
        await send(`${hub}/v1/reservations/${encodeURIComponent(id)}/${action}`, { method: 'POST', headers: auth() });
      }
    }
    // Wrong methods on mutating routes.
    for (const path of ['/v1/sales', '/v1/receipts']) await send(`${store}${path}`, { method: 'PUT', body: '{}' });

    expect(sent).toBeGreaterThanOrEqual(1000);
    expect([...kinds.keys()].every((status) => status >= 400 && status < 500)).toBe(true);
    expect(await snapshot()).toEqual(before);
  }, 120_000);

  it('public reads are rate limited per client with 429 and Retry-After; CORS only for the listed origin', async () => {
    const hub = cluster.hub?.url ?? '';
    // A fresh second (the burst is 5): the sixth read in a row is refused.
    const statuses: number[] = [];
    let limited: Response | null = null;
    for (let i = 0; i < 12 && limited === null; i++) {
      const res = await fetch(`${hub}/v1/skus/FUZZ-1`);
      statuses.push(res.status);
      if (res.status === 429) limited = res;
      else await res.arrayBuffer();
    }
    expect(limited).not.toBeNull();
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited?.json()).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
    // Authenticated and store traffic is not counted against it.
    expect((await get(hub, '/v1/reservations/r_AAAAAAAAAAAAAAAAAAAAAA', auth())).status).toBe(404);

    const preflight = await fetch(`${hub}/v1/reservations`, {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('Idempotency-Key');
    const other = await fetch(`${hub}/healthz`, { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
