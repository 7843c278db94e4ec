import { ErrorCode, SkuSchema, StoreIdSchema, type Reservation } from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import { InProcessChain } from '../src/testing/index.js';

const TENT = SkuSchema.parse('TENT-1');
const LAMP = SkuSchema.parse('LAMP-9');
const NORTH = StoreIdSchema.parse('north');

/**
 * An online floor of 10 and no release asked of the store: 10 of 12 units sit
 * in the escrow, so these tests see the escrow alone (the release path is
 * escrow-chain.test.ts).
 */
async function chainWithTents(ttlMs = 600_000): Promise<InProcessChain> {
  const chain = await InProcessChain.open({
    allocator: { onlineFloor: 10, releaseWaitMs: 0 },
    reservationTtlMs: ttlMs,
  });
  // 12 received: the escrow keeps its floor of 10, the POS the other 2.
  expect((await chain.store('north').receive(TENT, 12)).status).toBe(201);
  await chain.settle();
  expect(await chain.location(TENT, 'north')).toMatchObject({ posRights: 2, onlineRights: 10 });
  return chain;
}

/** Cut off, the store cannot be asked to release: 200 orders for one unit each race for the escrow's 10. */
async function rush(chain: InProcessChain) {
  expect(chain.cut('north')).toBe(true);
  await chain.settle();
  expect(chain.store('north').status().connected).toBe(false);
  return Promise.all(Array.from({ length: 200 }, () => chain.reserve({ sku: TENT, quantity: 1, storeId: NORTH })));
}

describe('online reservations at the hub, in one process', () => {
  it('200 concurrent requests for 10 escrowed units, the store cut off: exactly 10 succeed, the rest are told what is left', async () => {
    const chain = await chainWithTents();
    const results = await rush(chain);
    const won = results.filter((r) => r.ok);
    expect(won).toHaveLength(10);
    expect(new Set(won.map((r) => r.value.id)).size).toBe(10);
    for (const lost of results.filter((r) => !r.ok)) {
      expect(lost.error).toMatchObject({ code: ErrorCode.InsufficientStock, details: { available: 0 } });
    }
    expect(await chain.location(TENT, 'north')).toMatchObject({
      onlineRights: 0,
      outstandingReservations: 10,
      posRights: 2,
    });
    // The store's own rights were never touched: cut off, it still sells.
    expect((await chain.store('north').sell(TENT, 1)).status).toBe(201);
    expect(chain.restore('north')).toBe(true);
    await chain.converged([TENT]);
    expect(chain.errors).toEqual([]);
    chain.close();
  });

  it('confirm and cancel close a reservation once; cancelled units go back on sale', async () => {
    const chain = await chainWithTents();
    const won = (await rush(chain)).filter((r) => r.ok).map((r) => r.value);
    expect((await chain.store('north').sell(TENT, 1)).status).toBe(201);
    chain.restore('north');
    await chain.converged([TENT]);
    // Reserved units are committed: 12 received, 10 reserved, 1 sold.
    expect((await chain.hubStock(TENT)).value).toBe(1);

    // Free one unit by cancelling a won reservation, then take it again and confirm it.
    const id = won[0]?.id ?? '';
    expect(await chain.cancel(id)).toMatchObject({ ok: true, value: { id, state: 'cancelled' } });
    expect(await chain.cancel(id)).toMatchObject({ ok: true, value: { state: 'cancelled' } });
    expect(await chain.confirm(id)).toMatchObject({ ok: false, error: { code: ErrorCode.ReservationClosed } });
    await chain.settle();
    expect(await chain.location(TENT, 'north')).toMatchObject({ outstandingReservations: 9 });
    expect((await chain.location(TENT, 'north'))?.onlineRights).toBeGreaterThanOrEqual(1);
    expect((await chain.hubStock(TENT)).value).toBe(2);

    const next = await chain.reserve({ sku: TENT, quantity: 1 });
    if (!next.ok) throw new Error(`not reserved: ${next.error.detail}`);
    expect(await chain.confirm(next.value.id)).toMatchObject({
      ok: true,
      value: { state: 'confirmed', location: 'north' },
    });
    expect(await chain.reservation(next.value.id)).toMatchObject({ state: 'confirmed' });
    expect(await chain.reservation('r_AAAAAAAAAAAAAAAAAAAAAA')).toBeUndefined();
    await chain.converged([TENT]);
    expect(chain.errors).toEqual([]);
    chain.close();
  });

  it('unconfirmed reservations expire after their TTL, also across a hub restart, and their units come back', async () => {
    const chain = await InProcessChain.open({
      allocator: { onlineFloor: 10, releaseWaitMs: 0 },
      reservationTtlMs: 6_000,
    });
    const north = chain.store('north');
    expect((await north.receive(LAMP, 7)).status).toBe(201);
    await chain.settle();
    expect(await chain.location(LAMP, 'north')).toMatchObject({ posRights: 2, onlineRights: 5 });
    const made = await chain.reserve({ sku: LAMP, quantity: 3, storeId: north.id });
    expect(made).toMatchObject({ ok: true, value: { state: 'held', quantity: 3 } });
    const id = made.ok ? made.value.id : '';
    await chain.settle();
    // The order took 3 of the escrow; the allocator may move the till's rights toward it since (online demand grew).
    const held = await chain.location(LAMP, 'north');
    expect(held?.outstandingReservations).toBe(3);
    expect((held?.posRights ?? 0) + (held?.onlineRights ?? 0)).toBe(4);

    // The hub restarts before the TTL runs out: the expiry is rebuilt from the stored record on start.
    await chain.restartHub();
    expect(await chain.advance(5_999)).toBe(0);
    expect(await chain.reservation(id)).toMatchObject({ state: 'held' });
    expect(await chain.advance(1)).toBe(1);
    expect(await chain.reservation(id)).toMatchObject({ state: 'expired' });
    expect(chain.expired.map((r: Reservation) => r.id)).toEqual([id]);
    const back = await chain.location(LAMP, 'north');
    expect(back?.outstandingReservations).toBe(0);
    expect((back?.posRights ?? 0) + (back?.onlineRights ?? 0)).toBe(7);
    await chain.converged([LAMP]);
    expect(await north.stock(LAMP)).toMatchObject({ onShelf: 7, available: 7 });
    expect(chain.errors).toEqual([]);
    chain.close();
  });
});
