import {
  CENTRAL_ACCOUNT,
  ErrorCode,
  HUB_WRITER,
  META_WRITER,
  SkuSchema,
  accountOwner,
  onlineAccount,
  onlineWriter,
  storeAccount,
  type WriterKey,
} from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  applyOperation,
  computeStock,
  createSkuDoc,
  filterUpdate,
  heldClientOwners,
  initMeta,
  ledgerOf,
  metaValueSchemas,
  migrateToV2,
  mirrorVersion1,
  readAccount,
  rightsOf,
  schemaVersion,
  type WriterClients,
} from '../src/index.js';
import { MemoryWriterClients } from '../src/testing/index.js';
import { REMOTE, TEST_SKU, makeHub, makeStores, storeIdOf, syncWithHub } from './support/replica.js';

const a = storeIdOf(0);
const posA = storeAccount(a);
const onlineA = onlineAccount(a);
/** online:store-0's writer key in version 2. */
const keyA = accountOwner(onlineA, 2);

/** A version 2 hub whose store A has stock and released some of it online. */
function chain() {
  const [store] = makeStores(1);
  if (store === undefined) throw new Error('no store');
  const hub = makeHub(2);
  const clients = hub.clients;
  if (clients === undefined) throw new Error('no writer ids');
  store.apply({ type: 'receive', account: posA, quantity: 10 });
  store.apply({ type: 'transferRights', from: posA, to: onlineA, quantity: 4 });
  syncWithHub(store, hub);
  return { store, hub, clients };
}

/** The client id of the item a map key holds. */
function writerOf(doc: Y.Doc, map: string, key: string): number | undefined {
  return doc.getMap(map)._map.get(key)?.id.client;
}

describe('schema version 2: telling the versions apart', () => {
  it('a document is version 2 iff meta.schema is 2; asking creates nothing; meta.schema accepts 1 or 2', () => {
    const doc = createSkuDoc();
    expect(schemaVersion(doc)).toBe(1);
    expect(doc.share.has('meta')).toBe(false);
    initMeta(doc, TEST_SKU);
    expect(schemaVersion(doc)).toBe(1);
    expect(migrateToV2(doc, TEST_SKU, new MemoryWriterClients())).toEqual({ ok: true, value: { accounts: [] } });
    expect(schemaVersion(doc)).toBe(2);
    expect([1, 2, 3, '2'].map((value) => metaValueSchemas.schema.safeParse(value).success)).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });

  it('initMeta with the writer ids writes schema 2 and the sku under meta’s id, and leaves the neutral id', () => {
    const doc = createSkuDoc();
    const clients = new MemoryWriterClients();
    initMeta(doc, TEST_SKU, null, clients);
    expect(doc.getMap('meta').toJSON()).toEqual({ schema: 2, sku: TEST_SKU });
    expect(writerOf(doc, 'meta', 'schema')).toBe(clients.idFor('meta'));
    expect(writerOf(doc, 'meta', 'sku')).toBe(clients.idFor('meta'));
    expect(doc.clientID).toBe(clients.neutral);
    const bytes = Y.encodeStateAsUpdate(doc);
    initMeta(doc, TEST_SKU, null, clients);
    expect(Y.encodeStateAsUpdate(doc)).toEqual(bytes);
    expect(() => initMeta(doc, SkuSchema.parse('OTHER'), null, clients)).toThrow(/version 2 already/);
  });

  it('initMeta without the writer ids never takes a version 2 document back to version 1', () => {
    const { hub } = chain();
    const bytes = Y.encodeStateAsUpdate(hub.doc);
    initMeta(hub.doc, TEST_SKU);
    expect(schemaVersion(hub.doc)).toBe(2);
    expect(Y.encodeStateAsUpdate(hub.doc)).toEqual(bytes);
  });
});

describe('schema version 2: reading', () => {
  it('reads online accounts from their own entries and ignores the hub entry, however it differs', () => {
    const { store, hub } = chain();
    hub.apply({ type: 'reserve', account: onlineA, quantity: 3 });
    hub.apply({ type: 'transferRights', from: onlineA, to: posA, quantity: 1 });
    syncWithHub(store, hub);
    const view = computeStock(hub.doc);
    // A stale copy under `hub`, as a migration leaves it: counted, it would double the online account.
    Y.applyUpdate(hub.doc, copyWith(hub.doc, 'hub', { [onlineA]: { p: 9, n: 0, t: {}, reserved: 0, settled: 0 } }));
    expect(computeStock(hub.doc)).toEqual(view);
    expect(view.accounts[onlineA]).toMatchObject({ p: 0, n: 3, received: 4, given: 1, rights: 0, outstanding: 3 });
    expect(rightsOf(hub.doc, posA)).toBe(7);
    // A caller written for version 1 names the hub as the owner; it reads the account's own entry.
    expect(readAccount(hub.doc, 'hub', onlineA)).toEqual({ p: 0, n: 3, t: { [posA]: 1 }, reserved: 3, settled: 0 });
    expect(readAccount(hub.doc, keyA, onlineA)).toEqual(readAccount(hub.doc, 'hub', onlineA));
    expect(computeStock(store.doc)).toEqual(view);
  });

  it('an online entry holding anything but exactly its own account is left out and listed', () => {
    const { hub } = chain();
    hub.apply({ type: 'receive', account: CENTRAL_ACCOUNT, quantity: 5 });
    const state = { p: 2, n: 0, t: {}, reserved: 0, settled: 0 };
    Y.applyUpdate(hub.doc, copyWith(hub.doc, 'online:dc', { [CENTRAL_ACCOUNT]: state, [onlineA]: state }));
    Y.applyUpdate(hub.doc, copyWith(hub.doc, 'online:store-1', { [onlineAccount(storeIdOf(2))]: state }));
    const view = computeStock(hub.doc);
    expect(view.invalidEntries).toEqual(['online:dc', 'online:store-1']);
    expect(view.accounts[CENTRAL_ACCOUNT]).toBeUndefined();
    expect(rightsOf(hub.doc, CENTRAL_ACCOUNT)).toBe(0);
    expect(rightsOf(hub.doc, onlineA)).toBe(4);
  });

  it('a version 1 document counts only store:* and hub, and lists every other key', () => {
    const doc = createSkuDoc();
    const state = { p: 5, n: 0, t: {}, reserved: 0, settled: 0 };
    ledgerOf(doc).set('hub', { [onlineA]: state });
    ledgerOf(doc).set(onlineA, { [onlineA]: state });
    ledgerOf(doc).set('other', { [onlineA]: state });
    const view = computeStock(doc);
    expect(view.value).toBe(5);
    expect([...view.invalidEntries].sort()).toEqual([onlineA, 'other']);
    expect(readAccount(doc, 'hub', onlineA)).toEqual(state);
  });
});

describe('schema version 2: writing', () => {
  it('a hub write is one transaction on the account’s own entry, under that key’s id, and leaves the neutral id', () => {
    const { hub, clients } = chain();
    const sent = hub.sent.length;
    expect(hub.apply({ type: 'transferRights', from: onlineA, to: posA, quantity: 1 }).ok).toBe(true);
    expect(hub.sent).toHaveLength(sent + 1);
    const structs = Y.decodeUpdate(hub.sent.at(-1) as Uint8Array).structs;
    expect(structs.map((s) => s.id.client)).toEqual([clients.idFor(keyA)]);
    // The grant is written by the giver, online:X, as in version 1.
    expect(ledgerOf(hub.doc).get(onlineA)).toEqual({
      [onlineA]: { p: 0, n: 0, t: { [posA]: 1 }, reserved: 0, settled: 0 },
    });
    expect(ledgerOf(hub.doc).has('hub')).toBe(false);
    expect(hub.doc.clientID).toBe(clients.neutral);
    expect(heldClientOwners(hub.doc)).toEqual(
      new Map<number, WriterKey>([
        [clients.idFor('meta'), 'meta'],
        [clients.idFor(keyA), keyA],
        [writerOf(hub.doc, 'ledger', 'store:store-0') ?? -1, 'store:store-0'],
      ]),
    );
  });

  it('a store writes its own key under its own id, as in version 1', () => {
    const { store, hub } = chain();
    expect(schemaVersion(store.doc)).toBe(2);
    const sent = store.sent.length;
    store.apply({ type: 'sell', account: posA, quantity: 1 });
    const structs = Y.decodeUpdate(store.sent[sent] as Uint8Array).structs;
    expect(structs.map((s) => s.id.client)).toEqual([store.doc.clientID]);
    expect(syncWithHub(store, hub)).toMatchObject({ ok: true, value: { changed: true } });
  });

  it('refuses a hub write without the writer ids, and one under an id that wrote another key or is the neutral one', () => {
    const { hub, clients } = chain();
    const before = Y.encodeStateAsUpdate(hub.doc);
    const sell = { type: 'shipOut', account: onlineA, quantity: 1 } as const;
    expect(applyOperation(hub.doc, HUB_WRITER, sell)).toMatchObject({
      ok: false,
      error: { code: ErrorCode.ValidationFailed },
    });
    const storeId = writerOf(hub.doc, 'ledger', 'store:store-0') ?? -1;
    for (const id of [storeId, clients.idFor('meta'), clients.neutral]) {
      const wrong: WriterClients = { idFor: () => id, neutral: clients.neutral };
      expect(applyOperation(hub.doc, HUB_WRITER, sell, null, wrong)).toMatchObject({
        ok: false,
        error: { code: ErrorCode.UpdateClientIdTaken, details: { client: id } },
      });
    }
    expect(Y.encodeStateAsUpdate(hub.doc)).toEqual(before);
  });

  it('puts the neutral id back when the transaction throws', () => {
    const { hub, clients } = chain();
    const boom = (): never => {
      throw new Error('observer failed');
    };
    ledgerOf(hub.doc).observe(boom);
    expect(() => hub.apply({ type: 'receive', account: onlineA, quantity: 1 })).toThrow('observer failed');
    expect(hub.doc.clientID).toBe(clients.neutral);
    ledgerOf(hub.doc).unobserve(boom);
  });

  it('an online writer writes its own account only, and only in version 2; the meta writer no account', () => {
    const { hub, clients } = chain();
    const receive = (account: typeof onlineA) => ({ type: 'receive', account, quantity: 1 }) as const;
    expect(applyOperation(hub.doc, onlineWriter(a), receive(onlineA), null, clients).ok).toBe(true);
    for (const [writer, account] of [
      [onlineWriter(a), onlineAccount(storeIdOf(1))],
      [onlineWriter(a), posA],
      [META_WRITER, onlineA],
    ] as const) {
      expect(applyOperation(hub.doc, writer, receive(account), null, clients)).toMatchObject({
        ok: false,
        error: { code: ErrorCode.NotOwner },
      });
    }
    const v1 = makeHub(1);
    expect(applyOperation(v1.doc, onlineWriter(a), receive(onlineA), null, clients)).toMatchObject({
      ok: false,
      error: { code: ErrorCode.NotOwner },
    });
  });

  it('a version 1 hub given the writer ids writes its one entry under the id of `hub`', () => {
    const hub = makeHub(1);
    const clients = new MemoryWriterClients();
    applyOperation(hub.doc, HUB_WRITER, { type: 'receive', account: onlineA, quantity: 2 }, null, clients);
    applyOperation(hub.doc, HUB_WRITER, { type: 'receive', account: CENTRAL_ACCOUNT, quantity: 2 }, null, clients);
    expect(Object.keys(ledgerOf(hub.doc).toJSON())).toEqual(['hub']);
    expect(writerOf(hub.doc, 'ledger', 'hub')).toBe(clients.idFor('hub'));
    expect(hub.doc.clientID).toBe(clients.neutral);
  });
});

describe('mirrorVersion1: the hub entry for stores that read only version 1', () => {
  it('copies every online entry into hub under the version 1 id, and a version 1 reader reads the same rights', () => {
    const { hub, clients } = chain();
    expect(hub.apply({ type: 'transferRights', from: onlineA, to: posA, quantity: 1 }).ok).toBe(true);
    expect(mirrorVersion1(hub.doc, clients)).toBe(true);
    expect(hub.doc.clientID).toBe(clients.neutral);
    expect(ledgerOf(hub.doc).get('hub')).toEqual({ [onlineA]: readAccount(hub.doc, keyA, onlineA) });
    expect(writerOf(hub.doc, 'ledger', 'hub')).toBe(clients.idFor('hub'));
    // What a version 1 replica holds: everything but version 2's ids.
    const v2Ids = new Set([clients.idFor('meta'), clients.idFor(keyA)]);
    const old = createSkuDoc();
    const update = Y.encodeStateAsUpdate(hub.doc);
    Y.applyUpdate(old, filterUpdate(update, { has: (client) => !v2Ids.has(client) }));
    expect(schemaVersion(old)).toBe(1);
    expect(old.store.pendingStructs).toBeNull();
    for (const account of [posA, onlineA]) expect(rightsOf(old, account)).toBe(rightsOf(hub.doc, account));
    expect(computeStock(old).value).toBe(computeStock(hub.doc).value);
  });

  it('writes nothing when hub is current, or in a version 1 document', () => {
    const { hub, clients } = chain();
    // No online entry yet: an absent hub entry is current.
    expect(mirrorVersion1(hub.doc, clients)).toBe(false);
    expect(hub.apply({ type: 'transferRights', from: onlineA, to: posA, quantity: 1 }).ok).toBe(true);
    expect(mirrorVersion1(hub.doc, clients)).toBe(true);
    const state = Y.encodeStateVector(hub.doc);
    expect(mirrorVersion1(hub.doc, clients)).toBe(false);
    expect(Y.encodeStateVector(hub.doc)).toEqual(state);
    const v1 = makeHub(1);
    expect(mirrorVersion1(v1.doc, clients)).toBe(false);
    expect(v1.doc.store.clients.size).toBe(0);
  });
});

describe('schema version 2: the neutral client id', () => {
  it('stays the document’s id when a remote update carries structs of an id the hub wrote under', () => {
    const { hub, clients } = chain();
    hub.apply({ type: 'receive', account: onlineA, quantity: 1 });
    // Another copy of the hub's document (a restored data directory) writes under the same id.
    const copy = createSkuDoc({ clientID: clients.neutral });
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(hub.doc));
    applyOperation(copy, HUB_WRITER, { type: 'receive', account: onlineA, quantity: 1 }, null, clients);
    Y.applyUpdate(hub.doc, Y.encodeStateAsUpdate(copy, Y.encodeStateVector(hub.doc)), REMOTE);
    expect(hub.doc.clientID).toBe(clients.neutral);
    expect(hub.apply({ type: 'receive', account: onlineA, quantity: 1 }).ok).toBe(true);
    expect(hub.doc.clientID).toBe(clients.neutral);
    expect(rightsOf(hub.doc, onlineA)).toBe(7);

    // Why: a document holding that id would have been moved to a random one by Yjs.
    const holder = createSkuDoc({ clientID: clients.idFor(keyA) });
    Y.applyUpdate(holder, Y.encodeStateAsUpdate(hub.doc), REMOTE);
    expect(holder.clientID).not.toBe(clients.idFor(keyA));
  });
});

describe('migrateToV2: refusals', () => {
  it('refuses, with a code and without writing, a document it cannot move', () => {
    const clients = new MemoryWriterClients();
    const v2 = makeHub(2).doc;
    const withOnline = createSkuDoc();
    ledgerOf(withOnline).set(onlineA, {});
    const otherSku = createSkuDoc();
    initMeta(otherSku, SkuSchema.parse('OTHER'));
    const badHub = createSkuDoc();
    ledgerOf(badHub).set('hub', { [onlineA]: { p: -1 } });
    const storeInHub = createSkuDoc();
    ledgerOf(storeInHub).set('hub', { [posA]: { p: 1, n: 0, t: {}, reserved: 0, settled: 0 } });
    for (const [doc, path] of [
      [v2, 'meta.schema'],
      [withOnline, `ledger.${onlineA}`],
      [otherSku, 'meta.sku'],
      [badHub, 'ledger.hub'],
      [storeInHub, 'ledger.hub'],
    ] as const) {
      const bytes = Y.encodeStateAsUpdate(doc);
      expect(migrateToV2(doc, TEST_SKU, clients)).toMatchObject({
        ok: false,
        error: { code: ErrorCode.ValidationFailed, details: { issues: [{ path }] } },
      });
      expect(Y.encodeStateAsUpdate(doc)).toEqual(bytes);
    }
  });

  it('refuses ids that are the neutral one, shared by two keys, or already in the document', () => {
    const hub = makeHub(1);
    hub.apply({ type: 'receive', account: onlineA, quantity: 1 });
    const used = hub.doc.clientID;
    const fresh = new MemoryWriterClients();
    for (const idFor of [
      (key: WriterKey) => (key === 'meta' ? fresh.neutral : fresh.idFor(key)),
      () => 77,
      (key: WriterKey) => (key === 'meta' ? used : fresh.idFor(key)),
    ]) {
      const bytes = Y.encodeStateAsUpdate(hub.doc);
      expect(migrateToV2(hub.doc, TEST_SKU, { idFor, neutral: fresh.neutral })).toMatchObject({
        ok: false,
        error: { code: ErrorCode.UpdateClientIdTaken },
      });
      expect(Y.encodeStateAsUpdate(hub.doc)).toEqual(bytes);
      expect(schemaVersion(hub.doc)).toBe(1);
    }
  });

  it('moves every online account in one update, meta included, and keeps the hub entry as it was', () => {
    const hub = makeHub(1);
    hub.apply({ type: 'receive', account: onlineA, quantity: 3 });
    hub.apply({ type: 'receive', account: CENTRAL_ACCOUNT, quantity: 4 });
    const mirror = ledgerOf(hub.doc).get('hub');
    const clients = new MemoryWriterClients();
    const sent = hub.sent.length;
    expect(migrateToV2(hub.doc, TEST_SKU, clients)).toEqual({
      ok: true,
      value: { accounts: [CENTRAL_ACCOUNT, onlineA] },
    });
    expect(hub.sent).toHaveLength(sent + 1);
    const clientsOfUpdate = new Set(Y.decodeUpdate(hub.sent.at(-1) as Uint8Array).structs.map((s) => s.id.client));
    expect(clientsOfUpdate).toEqual(
      new Set([keyA, accountOwner(CENTRAL_ACCOUNT, 2), 'meta' as const].map((k) => clients.idFor(k))),
    );
    expect(ledgerOf(hub.doc).get('hub')).toBe(mirror);
    expect(hub.doc.clientID).toBe(clients.neutral);
  });
});

/** An update that sets one ledger key as a copy of `doc` would write it. */
function copyWith(doc: Y.Doc, key: string, value: unknown): Uint8Array {
  const copy = new Y.Doc();
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
  const before = Y.encodeStateVector(copy);
  ledgerOf(copy).set(key, value);
  return Y.encodeStateAsUpdate(copy, before);
}
