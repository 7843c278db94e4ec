import { encodeShare, ledgerOf, rightsOf, schemaVersion } from '@shelfsync/core';
import { onlineAccount, storeAccount, type Sku, type StoreId } from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { SHARE_PROTOCOL, SyncMessageType, type Frame } from '../src/index.js';
import { TestHub, type TestStore, sku } from '../src/testing/index.js';
import {
  connected as connectedAt,
  grant,
  hubWrites,
  receive,
  release,
  sell,
  settled,
  until,
} from './support/chain-ops.js';

const connected = (hub: TestHub, id: string, protocol = SHARE_PROTOCOL): Promise<TestStore> =>
  connectedAt(hub, id, protocol);

const MUG = sku('MUG-1');
const TEA = sku('TEA-1');
/** The doc frames of `sku` a store was sent since `from`. */
function docFrames(store: TestStore, target: Sku, from = 0): Extract<Frame, { kind: 'doc' }>[] {
  return store.received
    .slice(from)
    .filter((frame): frame is Extract<Frame, { kind: 'doc' }> => frame.kind === 'doc' && frame.sku === target);
}

/** Whether the store's document is exactly its share of the hub's: the same ids at the same clocks, nothing pending. */
async function holdsItsShare(hub: TestHub, store: TestStore, target: Sku): Promise<boolean> {
  const hubDoc = await hub.storage.open(target);
  const doc = await store.storage.open(target);
  const share = hub.storage.writerClients.storeShare(store.id, schemaVersion(hubDoc));
  const expected = new Y.Doc();
  Y.applyUpdate(expected, encodeShare(hubDoc, share));
  const vector = (d: Y.Doc): string => JSON.stringify([...Y.decodeStateVector(Y.encodeStateVector(d))].sort());
  return (
    vector(doc) === vector(expected) &&
    doc.store.pendingStructs === null &&
    doc.store.pendingDs === null &&
    rightsOf(doc, storeAccount(store.id)) === rightsOf(hubDoc, storeAccount(store.id)) &&
    rightsOf(doc, onlineAccount(store.id)) === rightsOf(hubDoc, onlineAccount(store.id))
  );
}

describe('interest-scoped relays (protocol 7)', () => {
  it("sends a store's sale to no other store, and a hub write only to the store whose account it changes", async () => {
    const hub = await TestHub.create();
    const stores = [await connected(hub, 'A'), await connected(hub, 'B'), await connected(hub, 'C')];
    const [a, b, c] = stores as [TestStore, TestStore, TestStore];
    for (const store of stores) {
      await store.apply(MUG, receive(store.id, 10));
      await store.apply(MUG, release(store.id, 4));
    }
    await settled(hub, stores);
    // The first hub write migrates the document: `meta` and every online account, each store its share.
    await hubWrites(hub, MUG, grant(a.id, 1));
    for (const store of stores) await until(() => holdsItsShare(hub, store, MUG));

    const [fromB, fromC] = [b.received.length, c.received.length];
    await a.apply(MUG, sell(a.id, 2));
    await settled(hub, stores);
    await hubWrites(hub, MUG, grant(b.id, 2));
    await until(() => holdsItsShare(hub, b, MUG));
    // Nothing of A's sale reached B or C; only B got the grant to B.
    expect(docFrames(c, MUG, fromC)).toEqual([]);
    const toB = docFrames(b, MUG, fromB);
    expect(toB).toHaveLength(1);
    const clients = new Set(Y.decodeUpdate(toB[0]?.payload ?? new Uint8Array()).structs.map((s) => s.id.client));
    expect(clients).toEqual(new Set([hub.storage.writerClients.peek(`online:${b.id}`)]));
    for (const store of stores) {
      expect(await holdsItsShare(hub, store, MUG)).toBe(true);
      // No other store's entry, and the hub's document holds them all.
      expect([...ledgerOf(await store.storage.open(MUG)).keys()].filter((k) => k.startsWith('store:'))).toEqual([
        `store:${store.id}`,
      ]);
    }
    const atHub = ledgerOf(await hub.storage.open(MUG));
    expect(stores.every((store) => atHub.has(`store:${store.id}`))).toBe(true);
  });

  it('moves a store past changes it was not sent with a cursor message, so its next catch-up names none of them', async () => {
    const hub = await TestHub.create();
    const [a, b] = [await connected(hub, 'A'), await connected(hub, 'B')];
    await a.apply(MUG, receive(a.id, 5));
    await b.apply(TEA, receive(b.id, 5));
    for (let i = 0; i < 5; i++) await a.apply(MUG, sell(a.id, 1));
    await settled(hub, [a, b]);
    const head = hub.storage.cursor();
    expect(docFrames(b, MUG)).toEqual([]);
    hub.sync.flushCursors();
    await until(() => b.received.some((f) => f.kind === 'control' && f.message.type === 'cursor'));
    expect(b.received.filter((f) => f.kind === 'control' && f.message.type === 'cursor').at(-1)).toMatchObject({
      message: { type: 'cursor', cursor: head },
    });
    // Told only when it moved.
    const told = b.received.length;
    hub.sync.flushCursors();
    b.disconnect();
    await until(async () => (await b.storage.loadCursor()).cursor === head);
    expect(b.received.length).toBe(told);

    b.connect(hub);
    await until(() => b.caughtUpCount() === 2);
    expect(b.events.filter((e) => e.type === 'caught-up').at(-1)).toMatchObject({ cursor: head, skus: 0 });
  });

  it('welcomes a store back with only the SKUs whose share changed while it was away, not every SKU that changed', async () => {
    const hub = await TestHub.create();
    const [a, b] = [await connected(hub, 'A'), await connected(hub, 'B')];
    for (const store of [a, b]) {
      for (const target of [MUG, TEA]) {
        await store.apply(target, receive(store.id, 10));
        await store.apply(target, release(store.id, 4));
      }
    }
    await settled(hub, [a, b]);
    await hubWrites(hub, TEA, grant(a.id, 1));
    await until(() => holdsItsShare(hub, a, TEA));
    // A's cursor reaches the head (from an ack or the cursor timer) before it goes away.
    const head = hub.storage.cursor();
    hub.sync.flushCursors();
    await until(() => a.sync.status().cursor === head);
    a.disconnect();
    await until(async () => (await a.storage.loadCursor()).cursor === head);

    // Away: B sells MUG and TEA (not A's share); the hub grants A rights in TEA (A's share).
    await b.apply(MUG, sell(b.id, 2));
    await b.apply(TEA, sell(b.id, 1));
    await settled(hub, [b]);
    await hubWrites(hub, TEA, grant(a.id, 2));
    expect(hub.storage.changedSince((await a.storage.loadCursor()).cursor)).toEqual(expect.arrayContaining([MUG, TEA]));

    const from = a.received.length;
    a.connect(hub);
    await until(() => a.caughtUpCount() === 2);
    const welcome = a.received.slice(from).find((f) => f.kind === 'control' && f.message.type === 'welcome');
    expect(welcome).toMatchObject({ message: { changed: [TEA] } });
    for (const target of [MUG, TEA]) expect(await holdsItsShare(hub, a, target)).toBe(true);
    expect(rightsOf(await a.storage.open(TEA), storeAccount(a.id))).toBe(9);
  });

  it('sends a store that begins to hold a SKU the rest of its share, so it reads version 2 and its first grant', async () => {
    const hub = await TestHub.create();
    const a = await connected(hub, 'A');
    await a.apply(MUG, receive(a.id, 10));
    await a.apply(MUG, release(a.id, 5));
    await settled(hub, [a]);
    await hubWrites(hub, MUG, grant(a.id, 1));
    expect(schemaVersion(await hub.storage.open(MUG))).toBe(2);

    // D holds nothing of MUG when the document is migrated, then receives stock and releases some.
    const d = await connected(hub, 'D');
    await d.apply(MUG, receive(d.id, 6));
    await d.apply(MUG, release(d.id, 3));
    await settled(hub, [a, d]);
    await until(async () => schemaVersion(await d.storage.open(MUG)) === 2);
    // Its first grant writes a new entry, which no earlier change leads up to.
    await hubWrites(hub, MUG, grant(d.id, 2));
    await until(() => holdsItsShare(hub, d, MUG));
    expect(rightsOf(await d.storage.open(MUG), storeAccount(d.id))).toBe(5);
  });

  it("answers a fresh replica's catch-up with its share only", async () => {
    const hub = await TestHub.create();
    const stores = [await connected(hub, 'A'), await connected(hub, 'B')];
    for (const store of stores) {
      await store.apply(MUG, receive(store.id, 10));
      await store.apply(MUG, release(store.id, 4));
    }
    await settled(hub, stores);
    await hubWrites(hub, MUG, grant('A' as StoreId, 1));
    // A's data directory is lost: a new replica of A catches up from nothing.
    const fresh = await connected(hub, 'A');
    await until(() => holdsItsShare(hub, fresh, MUG));
    expect(ledgerOf(await fresh.storage.open(MUG)).has('store:B')).toBe(false);
    expect(rightsOf(await fresh.storage.open(MUG), storeAccount(fresh.id))).toBe(
      rightsOf(await hub.storage.open(MUG), storeAccount(fresh.id)),
    );
  });

  it('still sends every update to a whole replica (protocol 6) and version 1 to older stores, beside share replicas', async () => {
    const hub = await TestHub.create();
    const [a, whole, old] = [await connected(hub, 'A'), await connected(hub, 'W', 6), await connected(hub, 'O', 5)];
    await a.apply(MUG, receive(a.id, 3));
    await settled(hub, [a, whole, old]);
    const sent = (store: TestStore): number =>
      docFrames(store, MUG).filter((f) => f.type === SyncMessageType.Update).length;
    await until(() => sent(whole) === 1 && sent(old) === 1);
    const wholeDoc = await whole.storage.open(MUG);
    await until(() => rightsOf(wholeDoc, storeAccount(a.id)) === 3);
    expect(rightsOf(await old.storage.open(MUG), storeAccount(a.id))).toBe(3);
  });
});
