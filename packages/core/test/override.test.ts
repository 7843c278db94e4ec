import { ErrorCode, onlineAccount, storeAccount, type AccountId } from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { applyValidatedUpdate, computeStock, ledgerOf, readAccount, rightsOf } from '../src/index.js';
import { assertSafe, capture, copyOf } from '../src/testing/index.js';
import { makeHub, makeStores, storeIdOf, syncWithHub } from './support/replica.js';

const a = storeIdOf(0);
const posA = storeAccount(a);
const onlineA = onlineAccount(a);

/** A store with 5 units, 3 of them escrowed online, synced with the hub. */
function setup() {
  const [store] = makeStores(1);
  if (store === undefined) throw new Error('no store');
  const hub = makeHub();
  store.apply({ type: 'receive', account: posA, quantity: 5 });
  store.apply({ type: 'transferRights', from: posA, to: onlineA, quantity: 3 });
  syncWithHub(store, hub);
  return { store, hub };
}

describe('manager override: sellOverride', () => {
  it('sells beyond rights and records the part no rights covered in o', () => {
    const { store } = setup();
    expect(store.apply({ type: 'sellOverride', account: posA, quantity: 3, cap: 2 })).toEqual({
      ok: true,
      value: { type: 'sellOverride', account: posA, delta: -3, rights: -1, overridden: 1 },
    });
    expect(readAccount(store.doc, 'store:store-0', posA)).toMatchObject({ n: 3, o: 1 });
    const view = computeStock(store.doc);
    expect(view.locations[a]).toMatchObject({ posRights: -1, deficit: 1, onShelf: 2 });
    assertSafe(view);
  });

  it('within rights it is an ordinary sale: no o is written', () => {
    const { store } = setup();
    store.apply({ type: 'sellOverride', account: posA, quantity: 2, cap: 5 });
    expect(readAccount(store.doc, 'store:store-0', posA)).toEqual({
      p: 5,
      n: 2,
      t: { [onlineA]: 3 },
      reserved: 0,
      settled: 0,
    });
  });

  it('refuses with OVERRIDE_CAP_EXCEEDED past the cap, and says the override is off at cap 0, changing nothing', () => {
    const { store } = setup();
    store.apply({ type: 'sellOverride', account: posA, quantity: 3, cap: 2 });
    const before = Y.encodeStateAsUpdate(store.doc);
    const refused = store.apply({ type: 'sellOverride', account: posA, quantity: 2, cap: 2 });
    expect(refused).toMatchObject({
      ok: false,
      error: { code: ErrorCode.OverrideCapExceeded, details: { outstanding: 1, requested: 2, cap: 2, rights: -1 } },
    });
    const off = store.apply({ type: 'sellOverride', account: posA, quantity: 1, cap: 0 });
    expect(off).toMatchObject({ ok: false, error: { code: ErrorCode.OverrideCapExceeded } });
    if (!off.ok) expect(off.error.detail).toContain('off');
    expect(Y.encodeStateAsUpdate(store.doc)).toEqual(before);
    // Exactly up to the cap is allowed.
    expect(store.apply({ type: 'sellOverride', account: posA, quantity: 1, cap: 2 }).ok).toBe(true);
    expect(rightsOf(store.doc, posA)).toBe(-2);
  });

  it('only a store POS account sells under override', () => {
    const { hub } = setup();
    expect(hub.apply({ type: 'sellOverride', account: onlineA, quantity: 1, cap: 5 })).toMatchObject({
      ok: false,
      error: { code: ErrorCode.ValidationFailed },
    });
  });

  it('the hub accepts an override deficit, and ordinary sales still need rights', () => {
    const { store, hub } = setup();
    store.apply({ type: 'sellOverride', account: posA, quantity: 4, cap: 3 });
    expect(syncWithHub(store, hub)).toMatchObject({ ok: true, value: { changed: true } });
    expect(store.apply({ type: 'sell', account: posA, quantity: 1 })).toMatchObject({
      ok: false,
      error: { code: ErrorCode.InsufficientRights },
    });
    assertSafe(hub.stock());
  });
});

describe('manager override: coverDeficit', () => {
  it('covers the deficit from online rights and settles it in c', () => {
    const { store, hub } = setup();
    store.apply({ type: 'sellOverride', account: posA, quantity: 4, cap: 3 });
    syncWithHub(store, hub);
    expect(hub.apply({ type: 'coverDeficit', account: onlineA })).toEqual({
      ok: true,
      value: { type: 'coverDeficit', account: onlineA, delta: -2, rights: 1, settled: 2 },
    });
    syncWithHub(store, hub);
    for (const replica of [store, hub]) {
      const view = computeStock(replica.doc);
      expect(view.locations[a]).toMatchObject({ posRights: 0, onlineRights: 1, deficit: 0 });
      expect(view.accounts[posA]).toMatchObject({ overridden: 2 });
      expect(view.accounts[onlineA]).toMatchObject({ covered: 2 });
      assertSafe(view);
    }
    // Settled: the store may use its override again, up to the full cap.
    expect(store.apply({ type: 'sellOverride', account: posA, quantity: 3, cap: 3 }).ok).toBe(true);
  });

  it('covers what the online rights allow and leaves the rest owed; reservations there are at risk', () => {
    const { store, hub } = setup();
    hub.apply({ type: 'reserve', account: onlineA, quantity: 2 });
    syncWithHub(store, hub);
    store.apply({ type: 'sellOverride', account: posA, quantity: 4, cap: 5 });
    syncWithHub(store, hub);
    expect(hub.apply({ type: 'coverDeficit', account: onlineA })).toMatchObject({
      ok: true,
      value: { delta: -1, rights: 0, settled: 1 },
    });
    const view = computeStock(hub.doc);
    expect(view.locations[a]).toMatchObject({ posRights: -1, onlineRights: 0, deficit: 1, reservationsAtRisk: 1 });
    expect(readAccount(hub.doc, 'hub', onlineA)).toMatchObject({ c: 1, reserved: 2 });
    assertSafe(view);
  });

  it('settles without a grant what the store repaid with its own receipts', () => {
    const { store, hub } = setup();
    store.apply({ type: 'sellOverride', account: posA, quantity: 4, cap: 3 });
    store.apply({ type: 'receive', account: posA, quantity: 5 });
    syncWithHub(store, hub);
    expect(hub.apply({ type: 'coverDeficit', account: onlineA })).toMatchObject({
      ok: true,
      value: { delta: 0, rights: 3, settled: 2 },
    });
    // Nothing owed: a second cover writes nothing.
    const before = Y.encodeStateAsUpdate(hub.doc);
    expect(hub.apply({ type: 'coverDeficit', account: onlineA })).toMatchObject({ ok: true, value: { settled: 0 } });
    expect(Y.encodeStateAsUpdate(hub.doc)).toEqual(before);
  });

  it('only from a store online account, only by the hub', () => {
    const { store, hub } = setup();
    expect(hub.apply({ type: 'coverDeficit', account: 'online:dc' as AccountId })).toMatchObject({
      ok: false,
      error: { code: ErrorCode.ValidationFailed },
    });
    expect(store.apply({ type: 'coverDeficit', account: onlineA })).toMatchObject({
      ok: false,
      error: { code: ErrorCode.NotOwner },
    });
  });

  it('a cover concurrent with more override sales still leaves every replica safe', () => {
    const { store, hub } = setup();
    store.apply({ type: 'sellOverride', account: posA, quantity: 4, cap: 4 });
    syncWithHub(store, hub);
    hub.apply({ type: 'coverDeficit', account: onlineA });
    // The store has not seen the cover yet and sells on under its old view.
    store.apply({ type: 'receive', account: posA, quantity: 1 });
    expect(store.apply({ type: 'sellOverride', account: posA, quantity: 2, cap: 4 }).ok).toBe(true);
    expect(syncWithHub(store, hub).ok).toBe(true);
    expect(computeStock(hub.doc).locations[a]).toMatchObject({ posRights: -1, deficit: 1 });
    for (const replica of [store, hub]) assertSafe(replica.stock());
    expect(ledgerOf(store.doc).toJSON()).toEqual(ledgerOf(hub.doc).toJSON());
  });
});

describe('manager override: the hub refuses forged deficits', () => {
  const forge = (change: (entry: Record<string, unknown>) => void) => {
    const { store, hub } = setup();
    store.apply({ type: 'sellOverride', account: posA, quantity: 4, cap: 3 });
    syncWithHub(store, hub);
    const forger = copyOf(store.doc, store.doc.clientID);
    const update = capture(forger, (doc) => {
      const entry = structuredClone(ledgerOf(doc).get('store:store-0')) as Record<string, Record<string, unknown>>;
      change(entry);
      ledgerOf(doc).set('store:store-0', entry);
    });
    return applyValidatedUpdate(hub.doc, update, store.writer);
  };

  it('rights below the override allowance', () => {
    const result = forge((entry) => {
      (entry[posA] as { n: number }).n += 1;
    });
    expect(result).toMatchObject({ ok: false, error: { code: ErrorCode.UpdateOverdrawn } });
  });

  it('a lowered override total', () => {
    const result = forge((entry) => {
      (entry[posA] as { o: number }).o = 0;
    });
    expect(result).toMatchObject({ ok: false, error: { code: ErrorCode.UpdateDecreasingTotal } });
  });

  it('a covered total written by a store', () => {
    const result = forge((entry) => {
      (entry[posA] as { c?: number }).c = 5;
    });
    expect(result).toMatchObject({ ok: false, error: { code: ErrorCode.UpdateInvalidValue } });
  });

  it('an override total raised without a sale to match', () => {
    const result = forge((entry) => {
      (entry[posA] as { o: number }).o += 1;
    });
    expect(result).toMatchObject({ ok: false, error: { code: ErrorCode.UpdateInvalidValue } });
  });

  it("a deficit past the hub's cap, even with sales to match; one within it is accepted", () => {
    const { store, hub } = setup();
    expect(store.apply({ type: 'sellOverride', account: posA, quantity: 5, cap: 10 }).ok).toBe(true);
    const update = Y.encodeStateAsUpdate(store.doc, Y.encodeStateVector(hub.doc));
    expect(applyValidatedUpdate(hub.doc, update, store.writer, null, { maxDeficit: 2 })).toMatchObject({
      ok: false,
      error: { code: ErrorCode.OverrideCapExceeded, details: { outstanding: 3, cap: 2 } },
    });
    expect(applyValidatedUpdate(hub.doc, update, store.writer, null, { maxDeficit: 3 })).toMatchObject({
      ok: true,
      value: { changed: true },
    });
  });

  it('an honest override sale raising o with n is accepted', () => {
    const result = forge((entry) => {
      const account = entry[posA] as { n: number; o: number };
      account.n += 1;
      account.o += 1;
    });
    expect(result).toMatchObject({ ok: true, value: { changed: true } });
  });
});
