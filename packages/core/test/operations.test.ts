import {
  CENTRAL_ACCOUNT,
  ErrorCode,
  HUB_WRITER,
  onlineAccount,
  storeAccount,
  type AccountId,
} from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { OperationSchema, computeStock, ledgerOf, readAccount, rightsOf } from '../src/index.js';
import { makeHub, makeStores, storeIdOf, syncWithHub } from './support/replica.js';

const a = storeIdOf(0);
const posA = storeAccount(a);
const onlineA = onlineAccount(a);

function setup() {
  const [store] = makeStores(1);
  if (store === undefined) throw new Error('no store');
  const hub = makeHub();
  return { store, hub };
}

describe('increments', () => {
  it('receive, return and receiveTransfer add to p and to rights', () => {
    const { store } = setup();
    expect(store.apply({ type: 'receive', account: posA, quantity: 10 })).toEqual({
      ok: true,
      value: { type: 'receive', account: posA, delta: 10, rights: 10 },
    });
    store.apply({ type: 'return', account: posA, quantity: 2 });
    store.apply({ type: 'receiveTransfer', account: posA, quantity: 3 });
    expect(readAccount(store.doc, 'store:store-0', posA)).toEqual({ p: 15, n: 0, t: {}, reserved: 0, settled: 0 });
    expect(rightsOf(store.doc, posA)).toBe(15);
  });

  it('each operation is one Yjs transaction producing one update', () => {
    const { store } = setup();
    store.apply({ type: 'receive', account: posA, quantity: 10 });
    store.apply({ type: 'sell', account: posA, quantity: 1 });
    expect(store.sent).toHaveLength(2);
  });
});

describe('decrements', () => {
  it('sell commits units within rights', () => {
    const { store } = setup();
    store.apply({ type: 'receive', account: posA, quantity: 5 });
    expect(store.apply({ type: 'sell', account: posA, quantity: 5 })).toMatchObject({
      ok: true,
      value: { delta: -5, rights: 0 },
    });
    expect(store.stock().value).toBe(0);
  });

  it('a sell beyond rights fails with INSUFFICIENT_RIGHTS and changes nothing', () => {
    const { store } = setup();
    store.apply({ type: 'receive', account: posA, quantity: 2 });
    const before = Y.encodeStateAsUpdate(store.doc);
    const result = store.apply({ type: 'sell', account: posA, quantity: 3 });
    expect(result).toEqual({
      ok: false,
      error: {
        code: ErrorCode.InsufficientRights,
        detail: 'store:store-0 holds 2 rights, 3 needed',
        details: { account: posA, rights: 2, requested: 3 },
      },
    });
    expect(Y.encodeStateAsUpdate(store.doc)).toEqual(before);
    expect(store.sent).toHaveLength(1);
  });

  it('shipOut needs rights like a sale', () => {
    const { store } = setup();
    expect(store.apply({ type: 'shipOut', account: posA, quantity: 1 })).toMatchObject({
      ok: false,
      error: { code: ErrorCode.InsufficientRights },
    });
  });
});

describe('ownership', () => {
  it('a store cannot write another store or an online account', () => {
    const { store } = setup();
    for (const account of [storeAccount(storeIdOf(1)), onlineA, CENTRAL_ACCOUNT]) {
      expect(store.apply({ type: 'receive', account, quantity: 1 })).toMatchObject({
        ok: false,
        error: { code: ErrorCode.NotOwner },
      });
    }
    expect(ledgerOf(store.doc).size).toBe(0);
  });

  it('the hub writes online accounts only', () => {
    const { hub } = setup();
    expect(hub.apply({ type: 'receive', account: onlineA, quantity: 4 }).ok).toBe(true);
    expect(hub.apply({ type: 'receive', account: CENTRAL_ACCOUNT, quantity: 4 }).ok).toBe(true);
    expect(hub.apply({ type: 'receive', account: posA, quantity: 1 })).toMatchObject({
      ok: false,
      error: { code: ErrorCode.NotOwner },
    });
    expect([...ledgerOf(hub.doc).keys()]).toEqual(['hub']);
  });
});

describe('rights transfers', () => {
  it('release (store > online) and grant (online > store) move rights and keep value', () => {
    const { store, hub } = setup();
    store.apply({ type: 'receive', account: posA, quantity: 10 });
    expect(store.apply({ type: 'transferRights', from: posA, to: onlineA, quantity: 4 })).toMatchObject({
      ok: true,
      value: { delta: -4, rights: 6 },
    });
    expect(syncWithHub(store, hub).ok).toBe(true);
    expect(hub.apply({ type: 'transferRights', from: onlineA, to: posA, quantity: 1 })).toMatchObject({
      ok: true,
      value: { rights: 3 },
    });
    syncWithHub(store, hub);
    const view = store.stock();
    expect(view.accounts[posA]).toMatchObject({ rights: 7, received: 1, given: 4 });
    expect(view.accounts[onlineA]).toMatchObject({ rights: 3, received: 4, given: 1 });
    expect(view.value).toBe(10);
    expect(view.locations['store-0']).toMatchObject({ posRights: 7, onlineRights: 3, onShelf: 10 });
  });

  it('rights never move between locations or to the warehouse', () => {
    const { store, hub } = setup();
    store.apply({ type: 'receive', account: posA, quantity: 10 });
    hub.apply({ type: 'receive', account: CENTRAL_ACCOUNT, quantity: 10 });
    const cases: [typeof store, AccountId, AccountId][] = [
      [store, posA, onlineAccount(storeIdOf(1))],
      [store, posA, posA],
      [hub, CENTRAL_ACCOUNT, onlineA],
      [hub, onlineA, storeAccount(storeIdOf(1))],
    ];
    for (const [replica, from, to] of cases) {
      expect(replica.apply({ type: 'transferRights', from, to, quantity: 1 })).toMatchObject({
        ok: false,
        error: { code: ErrorCode.InvalidTransfer },
      });
    }
  });

  it('a transfer beyond rights fails', () => {
    const { store } = setup();
    store.apply({ type: 'receive', account: posA, quantity: 1 });
    expect(store.apply({ type: 'transferRights', from: posA, to: onlineA, quantity: 2 })).toMatchObject({
      ok: false,
      error: { code: ErrorCode.InsufficientRights },
    });
  });
});

describe('reservations', () => {
  it('reserve holds units on the shelf; settle takes them off; cancel returns them to rights', () => {
    const { store, hub } = setup();
    store.apply({ type: 'receive', account: posA, quantity: 10 });
    store.apply({ type: 'transferRights', from: posA, to: onlineA, quantity: 5 });
    syncWithHub(store, hub);
    expect(hub.apply({ type: 'reserve', account: onlineA, quantity: 3 })).toMatchObject({
      ok: true,
      value: { rights: 2 },
    });
    let shelf = hub.stock().locations['store-0'];
    expect(shelf).toMatchObject({ posRights: 5, onlineRights: 2, outstandingReservations: 3, onShelf: 10 });
    expect(hub.apply({ type: 'settleReservation', account: onlineA, quantity: 2 })).toMatchObject({
      ok: true,
      value: { delta: 0 },
    });
    expect(hub.apply({ type: 'cancelReservation', account: onlineA, quantity: 1 })).toMatchObject({
      ok: true,
      value: { rights: 3 },
    });
    shelf = hub.stock().locations['store-0'];
    expect(shelf).toMatchObject({ posRights: 5, onlineRights: 3, outstandingReservations: 0, onShelf: 8 });
    expect(hub.stock().value).toBe(8);
  });

  it('cannot settle or cancel more than is outstanding, nor reserve on a store account', () => {
    const { store, hub } = setup();
    hub.apply({ type: 'receive', account: onlineA, quantity: 3 });
    hub.apply({ type: 'reserve', account: onlineA, quantity: 1 });
    for (const type of ['settleReservation', 'cancelReservation'] as const) {
      expect(hub.apply({ type, account: onlineA, quantity: 2 })).toMatchObject({
        ok: false,
        error: { code: ErrorCode.InsufficientReservation, details: { outstanding: 1, requested: 2 } },
      });
    }
    store.apply({ type: 'receive', account: posA, quantity: 3 });
    expect(store.apply({ type: 'reserve', account: posA, quantity: 1 })).toMatchObject({
      ok: false,
      error: { code: ErrorCode.ValidationFailed },
    });
  });
});

describe('count', () => {
  it('books the difference between the physical count and the shelf as this replica sees it', () => {
    const { store } = setup();
    store.apply({ type: 'receive', account: posA, quantity: 10 });
    expect(store.apply({ type: 'count', account: posA, counted: 12 })).toMatchObject({
      ok: true,
      value: { delta: 2, rights: 12 },
    });
    expect(store.apply({ type: 'count', account: posA, counted: 9 })).toMatchObject({
      ok: true,
      value: { delta: -3, rights: 9 },
    });
    const sent = store.sent.length;
    expect(store.apply({ type: 'count', account: posA, counted: 9 })).toMatchObject({ ok: true, value: { delta: 0 } });
    expect(store.sent).toHaveLength(sent);
    expect(readAccount(store.doc, 'store:store-0', posA)).toMatchObject({ p: 12, n: 3 });
  });

  it('a shortfall larger than the store rights fails (the hub must release online rights first)', () => {
    const { store } = setup();
    store.apply({ type: 'receive', account: posA, quantity: 10 });
    store.apply({ type: 'transferRights', from: posA, to: onlineA, quantity: 8 });
    expect(store.apply({ type: 'count', account: posA, counted: 5 })).toMatchObject({
      ok: false,
      error: { code: ErrorCode.InsufficientRights, details: { rights: 2, requested: 5 } },
    });
  });

  it('counts the warehouse through online:dc, but not a store through its online account', () => {
    const { hub } = setup();
    expect(hub.apply({ type: 'count', account: CENTRAL_ACCOUNT, counted: 7 })).toMatchObject({
      ok: true,
      value: { delta: 7 },
    });
    expect(hub.apply({ type: 'count', account: onlineA, counted: 1 })).toMatchObject({
      ok: false,
      error: { code: ErrorCode.ValidationFailed },
    });
  });
});

describe('limits', () => {
  it('refuses a total past Number.MAX_SAFE_INTEGER', () => {
    // Reaching the limit by operations would take 9 million receipts: start next to it.
    const hub = makeHub();
    hub.doc.transact(() =>
      ledgerOf(hub.doc).set('hub', {
        [onlineA]: { p: Number.MAX_SAFE_INTEGER - 1, n: 0, t: {}, reserved: 0, settled: 0 },
      }),
    );
    expect(hub.apply({ type: 'receive', account: onlineA, quantity: 2 })).toMatchObject({
      ok: false,
      error: { code: ErrorCode.CounterOverflow },
    });
    expect(computeStock(hub.doc).value).toBe(Number.MAX_SAFE_INTEGER - 1);
  });

  it('the operation schema rejects bad input with a reason', () => {
    const bad = [
      { type: 'sell', account: posA, quantity: 0 },
      { type: 'sell', account: posA, quantity: 1.5 },
      { type: 'sell', account: 'store:', quantity: 1 },
      { type: 'sell', account: 'store:dc', quantity: 1 },
      { type: 'sell', account: posA, quantity: 1, extra: true },
      { type: 'teleport', account: posA, quantity: 1 },
      { type: 'count', account: posA, counted: -1 },
    ];
    for (const input of bad) expect(OperationSchema.safeParse(input).success, JSON.stringify(input)).toBe(false);
    expect(OperationSchema.parse({ type: 'sell', account: 'store:store-0', quantity: 2 })).toEqual({
      type: 'sell',
      account: posA,
      quantity: 2,
    });
  });

  it('the hub writes under its own key only', () => {
    const hub = makeHub();
    hub.apply({ type: 'receive', account: onlineA, quantity: 1 });
    expect(ledgerOf(hub.doc).toJSON()).toEqual({ hub: { [onlineA]: { p: 1, n: 0, t: {}, reserved: 0, settled: 0 } } });
    expect(HUB_WRITER).toEqual({ kind: 'hub' });
  });
});
