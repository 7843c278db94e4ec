import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, eventually, get, post } from './support/cluster.js';

interface ServerEvent {
  id: string;
  event: string;
  data: unknown;
}

/**
 * Opens a Server-Sent Events stream. Resolves once the response has started,
 * which the hub does only after subscribing, so no change after this is missed.
 */
async function openEvents(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const reader = res.body?.getReader() as ReadableStreamDefaultReader<Uint8Array> | undefined;
  if (reader === undefined) throw new Error('no body');
  const events: ServerEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    events,
    /** Reads until `done(events)` holds. */
    async until(done: (events: ServerEvent[]) => boolean): Promise<ServerEvent[]> {
      while (!done(events)) {
        const { value, done: ended } = await reader.read();
        if (ended) throw new Error('the stream ended');
        buffer += decoder.decode(value, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(
            block
              .split('\n')
              .filter((line) => !line.startsWith(':') && line.includes(': '))
              .map((line) => [line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2)]),
          );
          if (fields.data !== undefined) {
            events.push({ id: fields.id ?? '', event: fields.event ?? 'message', data: JSON.parse(fields.data) });
          }
        }
      }
      return events;
    },
    close: () => controller.abort(),
  };
}

describe('storefront reads at the hub', () => {
  // Exact per-store numbers: every right stays at the store that received it.
  const cluster = new Cluster({ escrow: 'off' });
  const hub = (): string => cluster.hub?.url ?? '';
  beforeAll(async () => {
    await cluster.startHub();
    await cluster.startStore('east');
    for (let i = 0; i < 25; i++) {
      const sku = `CAT-${String(i).padStart(2, '0')}`;
      expect((await post(cluster.store('east'), '/v1/receipts', { sku, quantity: i % 5 }, `cat-${i}`)).status).toBe(
        i % 5 === 0 ? 400 : 201,
      );
    }
    await eventually(async () => (await get(hub(), '/v1/skus/CAT-24')).body, { available: 4 });
  }, 60_000);
  afterAll(() => cluster.stop(), 30_000);

  it('a SKU read carries a strong ETag and short caching; If-None-Match answers 304 until the stock changes', async () => {
    const first = await fetch(`${hub()}/v1/skus/CAT-03`);
    const etag = first.headers.get('etag') ?? '';
    expect(etag).toMatch(/^"[A-Za-z0-9]+-\d+"$/);
    expect(first.headers.get('cache-control')).toBe('public, max-age=1, stale-while-revalidate=5');
    expect(await first.json()).toMatchObject({
      sku: 'CAT-03',
      available: 3,
      central: { available: 0 },
      locations: [{ location: 'east', onShelf: 3, reservable: 0, reserved: 0 }],
    });
    const again = await fetch(`${hub()}/v1/skus/CAT-03`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');

    expect((await post(cluster.store('east'), '/v1/sales', { sku: 'CAT-03', quantity: 1 }, 'cat-03-sale')).status).toBe(
      201,
    );
    await eventually(
      async () => (await fetch(`${hub()}/v1/skus/CAT-03`, { headers: { 'if-none-match': etag } })).status,
      200,
    );
    const changed = await fetch(`${hub()}/v1/skus/CAT-03`);
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect(await changed.json()).toMatchObject({ available: 2 });
  });

  it('per-store availability', async () => {
    expect((await get(hub(), '/v1/stores/east/skus/CAT-04')).body).toMatchObject({
      sku: 'CAT-04',
      storeId: 'east',
      onShelf: 4,
      posRights: 4,
      reservable: 0,
      available: 4,
    });
    expect((await get(hub(), '/v1/stores/west/skus/CAT-04')).body).toMatchObject({ onShelf: 0, available: 4 });
    expect((await get(hub(), '/v1/stores/bad id/skus/CAT-04')).status).toBe(400);
    expect((await get(hub(), '/v1/stores/east/skus/NOPE-1')).status).toBe(404);
  });

  it('the catalog walk is sorted, complete and duplicate-free, even with SKUs added during the walk', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? '?limit=7' : `?limit=7&cursor=${cursor}`;
      const page = (await get(hub(), `/v1/skus${query}`)).body as {
        items: { sku: string }[];
        nextCursor: string | null;
      };
      seen.push(...page.items.map((i) => i.sku));
      cursor = page.nextCursor;
      if (pages++ === 1) {
        // One SKU before the cursor, one after it.
        await post(cluster.store('east'), '/v1/receipts', { sku: 'AAA-0', quantity: 1 }, 'aaa');
        await post(cluster.store('east'), '/v1/receipts', { sku: 'ZZZ-0', quantity: 1 }, 'zzz');
        await eventually(async () => (await get(hub(), '/v1/skus/ZZZ-0')).status, 200);
      }
    } while (cursor !== null);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual(seen);
    const catalog = Array.from({ length: 25 }, (_, i) => `CAT-${String(i).padStart(2, '0')}`).filter(
      (_, i) => i % 5 !== 0,
    );
    for (const sku of catalog) expect(seen).toContain(sku);
    expect(seen).toContain('ZZZ-0');

    const inStock = (await get(hub(), '/v1/skus?limit=200&inStock=true&store=east')).body as {
      items: { sku: string; store: { onShelf: number } }[];
    };
    expect(inStock.items.every((i) => i.store.onShelf > 0)).toBe(true);
    expect((await get(hub(), '/v1/skus?limit=200&store=west')).body).toMatchObject({ items: [], nextCursor: null });
    for (const bad of ['?limit=0', '?limit=201', '?cursor=***', '?colour=red', '?inStock=yes']) {
      expect((await get(hub(), `/v1/skus${bad}`)).body).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    }
  });

  it('streams stock changes as Server-Sent Events, and resumes after Last-Event-ID', async () => {
    const url = `${hub()}/v1/events?sku=CAT-07`;
    const live = await openEvents(url);
    expect((await post(cluster.store('east'), '/v1/sales', { sku: 'CAT-07', quantity: 1 }, 'cat-07-a')).status).toBe(
      201,
    );
    const events = await live.until((e) => e.length > 0);
    live.close();
    const last = events.at(-1);
    expect(last).toMatchObject({ event: 'stock', data: { sku: 'CAT-07', available: 1 } });
    expect(last?.id).toMatch(/^[A-Za-z0-9]+\.\d+$/);

    // Gone for a while; a change happens; back with the last id seen: the change is replayed at its latest state.
    expect((await post(cluster.store('east'), '/v1/sales', { sku: 'CAT-07', quantity: 1 }, 'cat-07-b')).status).toBe(
      201,
    );
    await eventually(async () => (await get(hub(), '/v1/skus/CAT-07')).body, { available: 0 });
    const resumed = await openEvents(url, { 'last-event-id': last?.id ?? '' });
    const replayed = await resumed.until((e) => e.length > 0);
    resumed.close();
    expect(replayed[0]).toMatchObject({ event: 'stock', data: { sku: 'CAT-07', available: 0 } });
    expect(Number(replayed[0]?.id.split('.')[1])).toBeGreaterThan(Number(last?.id.split('.')[1]));

    // A stream of every SKU sees changes to any of them; an id from other data asks the client to reload.
    const all = await openEvents(`${hub()}/v1/events`);
    expect((await post(cluster.store('east'), '/v1/sales', { sku: 'CAT-08', quantity: 1 }, 'cat-08-a')).status).toBe(
      201,
    );
    expect((await all.until((e) => e.length > 0))[0]).toMatchObject({ data: { sku: 'CAT-08', available: 2 } });
    all.close();
    const reset = await openEvents(url, { 'last-event-id': 'other.3' });
    expect((await reset.until((e) => e.length > 0))[0]?.event).toBe('reset');
    reset.close();
    expect((await get(hub(), '/v1/events?sku=bad%20sku')).status).toBe(400);
  });
});
