import type { ProcessCluster } from '@shelfsync/cli';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FIXTURES_DIR,
  STORE_IDS,
  copyFixture,
  fixtureCluster,
  getJson,
  locationLedger,
  postJson,
  settle,
  startAll,
  waitUntil,
  withApiToken,
  type LocationStock,
  type Snapshot,
} from './support/release-fixture.js';

/** tests/fixtures/release-v1/expected.json (its README says how it was made). */
interface Fixture {
  readonly productCommit: string;
  readonly reservations: Record<string, string>;
  readonly written: Snapshot;
  readonly afterExpiry: Snapshot;
}

interface Stock {
  available: number;
  locations: LocationStock[];
}

interface Reservation {
  state: string;
  expiresAt: string;
  closedAt: string | null;
}

const fixture = JSON.parse(readFileSync(join(FIXTURES_DIR, 'release-v1', 'expected.json'), 'utf8')) as Fixture;

/**
 * What the fixture says a start of today's code reads: the open order, past its
 * time, closed at the start's own time.
 */
function expectedOnStart(): Snapshot {
  const open = fixture.afterExpiry.reservations.open as Reservation;
  return {
    ...fixture.afterExpiry,
    stores: storeLedgersOf(fixture.afterExpiry),
    reservations: { ...fixture.afterExpiry.reservations, open: { ...open, closedAt: expect.any(String) as unknown } },
  };
}

/**
 * The fixture's store reads with each ledger cut to its location's accounts, as
 * `snapshot` reads them now (release v1 stores held whole documents).
 */
function storeLedgersOf(read: Snapshot): Snapshot['stores'] {
  return Object.fromEntries(
    Object.entries(read.stores).map(([id, skus]) => [
      id,
      Object.fromEntries(
        Object.entries(skus).map(([sku, view]) => [
          sku,
          view === null ? null : { ...view, ledger: locationLedger(view.ledger as Record<string, unknown>, id) },
        ]),
      ),
    ]),
  );
}

/** Per SKU, the chain's available units and per location the units on the shelf, its rights in all, the reserved. */
function totals(read: Snapshot): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(read.hub).map(([sku, views]) => {
      const stock = views.stock as Stock;
      return [
        sku,
        {
          available: stock.available,
          locations: Object.fromEntries(
            stock.locations.map((l) => [
              l.location,
              { onShelf: l.onShelf, rights: l.posRights + l.onlineRights, reserved: l.reserved, deficit: l.deficit },
            ]),
          ),
        },
      ];
    }),
  );
}

/** `totals` after `change` (SKU, location, what moved), the rest as they were. */
function moved(
  before: Snapshot,
  changes: { sku: string; location: string; available: number; onShelf: number; rights: number; reserved: number }[],
): Record<string, unknown> {
  const after = structuredClone(totals(before)) as Record<
    string,
    { available: number; locations: Record<string, { onShelf: number; rights: number; reserved: number }> }
  >;
  for (const change of changes) {
    const sku = after[change.sku];
    const here = sku?.locations[change.location];
    if (sku === undefined || here === undefined) throw new Error(`no ${change.sku} at ${change.location}`);
    sku.available += change.available;
    here.onShelf += change.onShelf;
    here.rights += change.rights;
    here.reserved += change.reserved;
  }
  return after;
}

/**
 * Data directories written by release v1 (tests/fixtures/release-v1), opened by
 * the code of today: a hub and three stores start on a copy, on fresh ports, and
 * every SKU's stock, every store's rights and every reservation must read as they
 * did; then the chain must still sell and take orders, and read the same after a
 * restart of everything. A change to the SKU documents' schema must keep this passing.
 */
describe('upgrade: today’s code on data directories of release v1', () => {
  const dir = copyFixture('release-v1');
  // Orders made here stay held for the whole test, however slow the machine.
  const cluster: ProcessCluster = fixtureCluster({ dir, reservationTtlMs: 600_000 });
  const hub = (): string => cluster.hub?.url ?? '';
  const reservations: Record<string, string> = { ...fixture.reservations };
  let onStart: Snapshot;
  let afterWork: Snapshot;

  beforeAll(async () => {
    await startAll(cluster);
  }, 90_000);
  afterAll(async () => {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('starts on them with every SKU, right and reservation there; the order left open expires', async () => {
    const open = fixture.written.reservations.open as Reservation;
    expect(open.state).toBe('held');
    // Its time ran out long ago (unless the fixture is minutes old): the hub expires it on start.
    await waitUntil(
      'the open order to expire',
      async () =>
        ((await getJson(hub(), `/v1/reservations/${reservations.open}`, withApiToken())).body as unknown as Reservation)
          .state === 'expired',
      Math.max(0, Date.parse(open.expiresAt) - Date.now()) + 30_000,
    );
    onStart = await settle(cluster, reservations);
    expect(onStart).toMatchObject(expectedOnStart());
    const expired = onStart.reservations.open as Reservation;
    expect(Date.parse(expired.closedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(expired.expiresAt));
    // And against the directories as written: only the open order's units came back on sale.
    expect(totals(onStart)).toEqual(
      moved(fixture.written, [
        { sku: 'LAMP-1', location: 'store-b', available: 1, onShelf: 0, rights: 1, reserved: -1 },
      ]),
    );
  }, 90_000);

  it('still sells, takes orders and confirms them, seen alike at the hub and the stores', async () => {
    const sale = await postJson(cluster.store('store-a'), '/v1/sales', { sku: 'MUG-1', quantity: 1 }, { key: 'up-1' });
    expect(sale.status).toBe(201);
    const pickup = await postJson(
      hub(),
      '/v1/reservations',
      { sku: 'TEA-1', quantity: 2, storeId: 'store-b' },
      { key: 'up-order-1', headers: withApiToken() },
    );
    expect(pickup).toMatchObject({ status: 201, body: { state: 'held', location: 'store-b' } });
    reservations.upConfirmed = String(pickup.body.id);
    const confirm = `/v1/reservations/${reservations.upConfirmed}/confirm`;
    const confirmed = await postJson(hub(), confirm, {}, { headers: withApiToken() });
    expect(confirmed.body).toMatchObject({ state: 'confirmed' });
    // store-c's escrow holds no MUG-1: the hub asks store-c to release one for this order, which stays held.
    const held = await postJson(
      hub(),
      '/v1/reservations',
      { sku: 'MUG-1', quantity: 1, storeId: 'store-c' },
      { key: 'up-order-2', headers: withApiToken() },
    );
    expect(held).toMatchObject({ status: 201, body: { state: 'held', location: 'store-c' } });
    reservations.upHeld = String(held.body.id);

    afterWork = await settle(cluster, reservations);
    expectAfterWork(afterWork);
  }, 60_000);

  it('reads the same after a restart of the hub and every store on the same directories', async () => {
    await cluster.stop();
    await startAll(cluster);
    const again = await settle(cluster, reservations);
    expect(again).toEqual(afterWork);
    expectAfterWork(again);
  }, 90_000);

  /** The fixture's figures with this test's sale and orders applied; the rest exactly as it was. */
  function expectAfterWork(read: Snapshot): void {
    expect(totals(read)).toEqual(
      moved(onStart, [
        { sku: 'MUG-1', location: 'store-a', available: -1, onShelf: -1, rights: -1, reserved: 0 },
        { sku: 'TEA-1', location: 'store-b', available: -2, onShelf: -2, rights: -2, reserved: 0 },
        { sku: 'MUG-1', location: 'store-c', available: -1, onShelf: 0, rights: -1, reserved: 1 },
      ]),
    );
    // SKUs no one touched here read exactly as on start, at the hub and at every store.
    for (const sku of ['DESK-1', 'LAMP-1']) {
      expect(read.hub[sku]).toEqual(onStart.hub[sku]);
      for (const id of STORE_IDS) expect(read.stores[id]?.[sku]).toEqual(onStart.stores[id]?.[sku]);
    }
    // Untouched locations of the touched SKUs keep their split between the till and the escrow.
    const split = (snap: Snapshot, sku: string, location: string) =>
      (snap.hub[sku]?.stock as Stock).locations.find((l) => l.location === location);
    for (const [sku, location] of [
      ['MUG-1', 'store-b'],
      ['TEA-1', 'store-a'],
      ['TEA-1', 'store-c'],
    ] as const) {
      expect(split(read, sku, location)).toEqual(split(onStart, sku, location));
    }
    expect(read.reservations).toMatchObject({
      ...onStart.reservations,
      upConfirmed: { state: 'confirmed', sku: 'TEA-1', quantity: 2, location: 'store-b' },
      upHeld: { state: 'held', sku: 'MUG-1', quantity: 1, location: 'store-c' },
    });
    // Each store's own figures are the hub's for its location (settle waited for that); its ledger's accounts too.
    for (const [sku, views] of Object.entries(read.hub)) {
      const stock = views.stock as Stock;
      expect(views.ledger).toMatchObject({ value: stock.available });
      for (const id of STORE_IDS) {
        expect(read.stores[id]?.[sku]?.ledger).toEqual(locationLedger(views.ledger as Record<string, unknown>, id));
      }
      for (const l of stock.locations) {
        expect(views.ledger).toMatchObject({
          rights: { [`store:${l.location}`]: l.posRights, [`online:${l.location}`]: l.onlineRights },
        });
      }
    }
  }
});
