import { ledgerSummary } from '@shelfsync/core';
import { ErrorCode, SkuListSchema, SkuStockSchema, StoreAvailabilitySchema } from '@shelfsync/protocol';
import { describe, expect, it, vi } from 'vitest';
import { MAX_SCAN, StockBodies, StorefrontReads, decodeCursor, encodeCursor, type CatalogPage } from '../src/index.js';
import { EPOCH_TAG, manualClock, openHub, receive, sell, sku, store } from './support/hub.js';

const EAST = store('east');
const WEST = store('west');
const MUG = sku('MUG-1');

async function hubWithReads(bootTag = 'b00t') {
  const clock = manualClock();
  const storage = await openHub(clock.now);
  const reads = new StorefrontReads(storage, new StockBodies(storage), { bootTag });
  return { storage, reads, clock };
}

/** What a rejected read threw: the coded error a route answers with. */
async function refusal(read: Promise<unknown>): Promise<{ code: string; detail: string }> {
  const error: unknown = await read.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return (error as { error: { code: string; detail: string } }).error;
}

describe('storefront reads: a SKU', () => {
  it('answers the derived stock as JSON under a strong ETag of epoch, process and change number', async () => {
    const { storage, reads, clock } = await hubWithReads();
    await receive(storage, MUG, EAST, 5);
    clock.advance(1_000);
    const seq = await sell(storage, MUG, EAST, 2);
    const read = await reads.stock(MUG);
    expect(read).toMatchObject({ etag: `"${EPOCH_TAG}b00t-${seq}"`, notModified: false });
    if (read.notModified) throw new Error('expected a body');
    const body = SkuStockSchema.parse(JSON.parse(read.body));
    expect(body).toMatchObject({
      sku: MUG,
      available: 3,
      central: { available: 0 },
      locations: [{ location: EAST, onShelf: 3, posRights: 3, reservable: 0, reserved: 0, deficit: 0 }],
      updatedAt: new Date(clock.now()).toISOString(),
      change: seq,
    });
  });

  it('keeps its ETag and its encoded body until the SKU changes, then both move on', async () => {
    const { storage, reads } = await hubWithReads();
    await receive(storage, MUG, EAST, 5);
    const first = await reads.stock(MUG);
    const opens = vi.spyOn(storage, 'open');
    const again = await reads.stock(MUG);
    expect(again).toEqual(first);
    // The cached body: the document is not read again for the same change.
    expect(opens).not.toHaveBeenCalled();

    await sell(storage, MUG, EAST, 1);
    const changed = await reads.stock(MUG);
    expect(changed.etag).not.toBe(first.etag);
    expect(changed.notModified ? null : JSON.parse(changed.body)).toMatchObject({ available: 4 });
  });

  it('answers notModified for a client holding the version (in a list, or *), without reading the document', async () => {
    const { storage, reads } = await hubWithReads();
    await receive(storage, MUG, EAST, 5);
    const { etag } = await reads.stock(MUG);
    const opens = vi.spyOn(storage, 'open');
    expect(await reads.stock(MUG, etag)).toEqual({ etag, notModified: true });
    expect(await reads.stock(MUG, `"other-1", ${etag}`)).toEqual({ etag, notModified: true });
    expect(await reads.stock(MUG, '*')).toEqual({ etag, notModified: true });
    expect(opens).not.toHaveBeenCalled();
    // Once the SKU changes, the old tag is stale: the client gets the body.
    await sell(storage, MUG, EAST, 1);
    expect(await reads.stock(MUG, etag)).toMatchObject({ notModified: false });
  });

  it('never matches a tag from another process of the same hub (a restart may renumber a change)', async () => {
    const { storage, reads } = await hubWithReads('aaaaaa');
    await receive(storage, MUG, EAST, 5);
    const before = await reads.stock(MUG);
    const restarted = new StorefrontReads(storage, new StockBodies(storage), { bootTag: 'bbbbbb' });
    const after = await restarted.stock(MUG, before.etag);
    expect(after.notModified).toBe(false);
    expect(after.etag).not.toBe(before.etag);
  });

  it('is NOT_FOUND for a SKU the hub never recorded, without creating its document', async () => {
    const { storage, reads } = await hubWithReads();
    const ghost = sku('GHOST-1');
    for (const read of [reads.stock(ghost), reads.storeAvailability(EAST, ghost), reads.ledger(ghost)]) {
      expect(await refusal(read)).toEqual({ code: ErrorCode.NotFound, detail: 'no stock recorded for GHOST-1' });
    }
    expect(storage.changeOf(ghost)).toBeUndefined();
    expect(storage.allSkus()).toEqual([]);
  });

  it('keeps a bounded number of bodies, dropping the least recently read first', async () => {
    const { storage } = await hubWithReads();
    const cup = sku('CUP-1');
    const pot = sku('POT-1');
    await receive(storage, MUG, EAST, 3);
    await receive(storage, cup, EAST, 2);
    await receive(storage, pot, EAST, 1);
    const reads = new StorefrontReads(storage, new StockBodies(storage, 2), { bootTag: 'b00t' });
    const opens = vi.spyOn(storage, 'open');
    const availableOf = async (target: typeof MUG) => {
      const read = await reads.stock(target);
      return read.notModified ? null : (JSON.parse(read.body) as { available: number }).available;
    };
    expect([await availableOf(MUG), await availableOf(cup), await availableOf(MUG)]).toEqual([3, 2, 3]);
    expect(opens).toHaveBeenCalledTimes(2);
    // Two cached: a third evicts CUP (read before MUG was read again), not MUG.
    expect(await availableOf(pot)).toBe(1);
    expect(await availableOf(MUG)).toBe(3);
    expect(opens).toHaveBeenCalledTimes(3);
    expect(await availableOf(cup)).toBe(2);
    expect(opens).toHaveBeenCalledTimes(4);
  });
});

describe('storefront reads: per store and the ledger', () => {
  it("answers a store's figures under a tag of its own, and zeros at a store that never held the SKU", async () => {
    const { storage, reads } = await hubWithReads();
    await receive(storage, MUG, EAST, 4);
    const seq = await receive(storage, MUG, WEST, 1);
    const east = await reads.storeAvailability(EAST, MUG);
    expect(east.etag).toBe(`"${EPOCH_TAG}b00t-${seq}-east"`);
    expect(east.notModified ? null : StoreAvailabilitySchema.parse(east.body)).toMatchObject({
      sku: MUG,
      storeId: EAST,
      onShelf: 4,
      posRights: 4,
      available: 5,
      change: seq,
    });
    const north = await reads.storeAvailability(store('north'), MUG);
    expect(north.notModified ? null : north.body).toMatchObject({
      onShelf: 0,
      reservable: 0,
      posRights: 0,
      available: 5,
    });
    // East's tag is not west's version.
    expect((await reads.storeAvailability(WEST, MUG, east.etag)).notModified).toBe(false);
    expect(await reads.storeAvailability(EAST, MUG, east.etag)).toEqual({ etag: east.etag, notModified: true });
  });

  it("answers the ledger summary of the hub's document", async () => {
    const { storage, reads } = await hubWithReads();
    await receive(storage, MUG, EAST, 4);
    await sell(storage, MUG, EAST, 1);
    const ledger = await reads.ledger(MUG);
    expect(ledger).toEqual({ sku: MUG, ...ledgerSummary(await storage.open(MUG)) });
    expect(ledger).toMatchObject({ added: 4, committed: 1, value: 3 });
  });
});

describe('storefront reads: the catalog walk', () => {
  /** Walks the whole catalog page by page; every page must be a valid response. */
  async function walk(reads: StorefrontReads, query: { limit: number; store?: typeof EAST; inStock?: boolean }) {
    const pages: CatalogPage[] = [];
    let cursor: string | undefined;
    do {
      const page = SkuListSchema.parse(await reads.list({ ...query, cursor }));
      pages.push(page);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return { pages, skus: pages.flatMap((p) => p.items.map((i) => i.sku)) };
  }

  it('walks every SKU once, in order, with a SKU added behind the cursor mid-walk found where it sorts', async () => {
    const { storage, reads } = await hubWithReads();
    for (const name of ['C-1', 'A-1', 'E-1', 'B-1', 'D-1']) await receive(storage, sku(name), EAST, 1);
    const first = await reads.list({ limit: 2 });
    expect(first.items.map((i) => i.sku)).toEqual(['A-1', 'B-1']);
    expect(first.nextCursor).toBe(encodeCursor(sku('B-1')));
    await receive(storage, sku('AA-1'), EAST, 1);
    await receive(storage, sku('CC-1'), EAST, 1);
    const rest = await reads.list({ limit: 10, cursor: first.nextCursor ?? '' });
    expect(rest.items.map((i) => i.sku)).toEqual(['C-1', 'CC-1', 'D-1', 'E-1']);
    expect(rest.nextCursor).toBeNull();
  });

  it('filters by store and by stock, chain-wide or at the store', async () => {
    const { storage, reads } = await hubWithReads();
    await receive(storage, sku('A-1'), EAST, 2);
    await receive(storage, sku('B-1'), WEST, 3);
    await receive(storage, sku('C-1'), EAST, 1);
    await sell(storage, sku('C-1'), EAST, 1);
    await receive(storage, sku('D-1'), EAST, 1);
    await receive(storage, sku('D-1'), WEST, 1);
    await sell(storage, sku('D-1'), EAST, 1);

    const atEast = await walk(reads, { limit: 2, store: EAST });
    expect(atEast.skus).toEqual(['A-1', 'C-1', 'D-1']);
    expect(atEast.pages[0]?.items[0]).toEqual({
      sku: 'A-1',
      available: 2,
      store: { onShelf: 2, reservable: 0 },
      updatedAt: expect.any(String) as string,
    });
    expect((await walk(reads, { limit: 50, store: EAST, inStock: true })).skus).toEqual(['A-1']);
    // D-1 is out of stock at east, though west holds one.
    expect((await walk(reads, { limit: 50, store: EAST, inStock: false })).skus).toEqual(['C-1', 'D-1']);
    expect((await walk(reads, { limit: 50, inStock: true })).skus).toEqual(['A-1', 'B-1', 'D-1']);
    expect((await walk(reads, { limit: 50, inStock: false })).skus).toEqual(['C-1']);
    expect(await reads.list({ limit: 50, store: store('north') })).toEqual({ items: [], nextCursor: null });
    expect((await reads.list({ limit: 50 })).items[1]).not.toHaveProperty('store');
  });

  it(`examines at most ${MAX_SCAN} SKUs a page and continues from the last one examined`, async () => {
    const { storage, reads } = await hubWithReads();
    const name = (i: number) => sku(`S-${String(i).padStart(4, '0')}`);
    // West holds three SKUs: one early, two past the first page's scan.
    const west = new Set([5, MAX_SCAN + 10, MAX_SCAN + 99]);
    for (let i = 0; i < MAX_SCAN + 100; i++) await receive(storage, name(i), west.has(i) ? WEST : EAST, 1);

    const first = await reads.list({ limit: 10, store: WEST });
    expect(first.items.map((i) => i.sku)).toEqual([name(5)]);
    // The page is short but the walk is not over: the cursor is the last SKU examined.
    expect(first.nextCursor).not.toBeNull();
    expect(decodeCursor(first.nextCursor ?? '')).toBe(name(MAX_SCAN - 1));
    const second = await reads.list({ limit: 10, store: WEST, cursor: first.nextCursor ?? '' });
    expect(second).toMatchObject({
      items: [{ sku: name(MAX_SCAN + 10) }, { sku: name(MAX_SCAN + 99) }],
      nextCursor: null,
    });

    // Unfiltered, a full page ends at the limit; the last page reports the end.
    const all = await walk(reads, { limit: 200 });
    expect(all.skus).toHaveLength(MAX_SCAN + 100);
    expect(new Set(all.skus).size).toBe(all.skus.length);
    expect(all.pages.at(-1)?.nextCursor).toBeNull();
    expect(all.pages.every((p, i) => i === all.pages.length - 1 || p.items.length === 200)).toBe(true);
  });

  it('refuses a cursor this hub did not give out', async () => {
    const { storage, reads } = await hubWithReads();
    await receive(storage, MUG, EAST, 1);
    for (const cursor of ['Kg', 'AAAA', '4pyT']) {
      expect(await refusal(reads.list({ limit: 5, cursor }))).toEqual({
        code: ErrorCode.ValidationFailed,
        detail: 'query.cursor: not a cursor this hub gave out',
      });
    }
  });
});

describe('catalog cursors', () => {
  it('decode what they encode, as the base64url cursors given out before (a stray last character ignored)', () => {
    for (const name of ['A', 'MUG', 'CUP-12', 'MUG-BLUE.XL_2', 'Z'.repeat(64)]) {
      const cursor = encodeCursor(sku(name));
      expect(cursor).toBe(Buffer.from(name, 'utf8').toString('base64url'));
      expect(decodeCursor(cursor)).toBe(name);
      if (cursor.length % 4 === 0) expect(decodeCursor(`${cursor}x`)).toBe(name);
    }
  });
});
