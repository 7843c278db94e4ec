import { applyOperation, ledgerOf, rightsOf, schemaVersion } from '@shelfsync/core';
import { capture, copyOf } from '@shelfsync/core/testing';
import { ErrorCode, onlineAccount, storeAccount, storeWriter, type Sku, type StoreId } from '@shelfsync/protocol';
import { MemoryStorageAdapter } from '@shelfsync/storage';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { SyncMessageType, encodeDocFrame } from '../src/index.js';
import { TestHub, TestStore, sku } from '../src/testing/index.js';
import { connected, grant, hubWrites, receive, release, until } from './support/chain-ops.js';

const MUG = sku('MUG-1');
const A = 'A' as StoreId;
/** A document with `holders` stores' entries, each having released 5 units to its online escrow. */
async function heldBy(hub: TestHub, target: Sku, holders: number): Promise<StoreId[]> {
  const doc = await hub.storage.open(target);
  // Names of one length: a longer name costs its bytes in every write of its entry.
  const ids = Array.from({ length: holders }, (_, i) => `s${String(i).padStart(3, '0')}` as StoreId);
  for (const id of ids) {
    const store = copyOf(doc);
    const update = capture(store, (d) => {
      applyOperation(d, storeWriter(id), receive(id, 10));
      applyOperation(d, storeWriter(id), release(id, 5));
    });
    const outcome = await hub.engine.acceptStoreUpdate({ storeId: id }, target, update);
    expect(outcome.type).toBe('committed');
  }
  return ids;
}

describe('the hub writes schema version 2', () => {
  it('migrates a version 1 document at its first hub write, in the same commit, and writes each account under its own id', async () => {
    const hub = await TestHub.create();
    const [first] = await heldBy(hub, MUG, 3);
    if (first === undefined) throw new Error('no holder');
    const doc = await hub.storage.open(MUG);
    expect(schemaVersion(doc)).toBe(1);
    const committed: Uint8Array[] = [];
    hub.storage.onCommit((_sku, _change, update) => committed.push(update));

    await hubWrites(hub, MUG, grant(first, 2));
    expect(schemaVersion(doc)).toBe(2);
    expect(committed).toHaveLength(1);
    const clients = hub.storage.writerClients;
    const own = clients.peek(`online:${first}`);
    expect(own).toBeDefined();
    expect(hub.storage.clientOwner(own ?? -1)).toBe(`online:${first}`);
    expect(doc.clientID).toBe(clients.neutral);
    expect(rightsOf(doc, storeAccount(first))).toBe(7);

    // The next write carries the one account it changes, under that account's id only.
    const update = await new Promise<Uint8Array>((resolve) => {
      const stop = hub.storage.onCommit((_sku, _change, u) => {
        stop();
        resolve(u);
      });
      void hubWrites(hub, MUG, grant(first, 1));
    });
    expect(new Set(Y.decodeUpdate(update).structs.map((s) => s.id.client))).toEqual(new Set([own]));
  });

  it('a hub write costs one account whatever the number of holders', async () => {
    const sizes: number[] = [];
    for (const holders of [10, 100]) {
      const hub = await TestHub.create();
      const ids = await heldBy(hub, MUG, holders);
      // Every online account gets its own entry (and id) first.
      for (const id of ids) await hubWrites(hub, MUG, grant(id, 1));
      const bytes: number[] = [];
      const stop = hub.storage.onCommit((_sku, _change, u) => bytes.push(u.byteLength));
      await hubWrites(hub, MUG, grant(ids[ids.length - 1] ?? A, 1));
      stop();
      sizes.push(bytes[0] ?? 0);
    }
    expect(sizes[0]).toBeLessThan(200);
    // The same bytes but for the account's client id, drawn at random: a varint of 1 to 5 bytes, named up to
    // three times (the struct, its left origin, the delete set). One entry per holder would add ~50 B each.
    expect(Math.abs((sizes[1] ?? 0) - (sizes[0] ?? 0))).toBeLessThanOrEqual(12);
  });

  it('keeps its per-key ids and neutral id across a restart, reserved against every store', async () => {
    const adapter = new MemoryStorageAdapter();
    const hub = await TestHub.create({}, adapter);
    await heldBy(hub, MUG, 1);
    await hubWrites(hub, MUG, grant('s000' as StoreId, 1));
    const before = hub.storage.writerClients;
    const ids = { online: before.peek('online:s000'), meta: before.peek('meta'), neutral: before.neutral };
    hub.sync.close();
    await hub.storage.close();

    const again = await TestHub.create({}, adapter);
    const after = again.storage.writerClients;
    expect({ online: after.peek('online:s000'), meta: after.peek('meta'), neutral: after.neutral }).toEqual(ids);
    expect((await again.storage.open(MUG)).clientID).toBe(ids.neutral);

    // A store writing under any of them, in a SKU the hub never wrote, is refused.
    const store = await connected(again, 'B');
    const TEA = sku('TEA-1');
    for (const [ref, client] of [ids.online, ids.meta, ids.neutral].entries()) {
      const doc = copyOf(await store.storage.open(TEA), client);
      const update = capture(doc, (d) => applyOperation(d, storeWriter(store.id), receive(store.id, 5)));
      const seen = again.events.length;
      store.link?.send(encodeDocFrame(TEA, ref + 1, SyncMessageType.Update, update));
      await until(() => again.events.slice(seen).some((e) => e.type === 'rejected'));
      expect(again.events.slice(seen).find((e) => e.type === 'rejected')).toMatchObject({
        code: ErrorCode.UpdateClientIdTaken,
      });
    }
  });
});

describe('a store that reads only schema version 1 (protocol 5)', () => {
  it('is sent the version 1 view, with the hub entry kept current while it is connected', async () => {
    const hub = await TestHub.create();
    const old = await connected(hub, 'A', 5);
    // A whole replica of version 2 (protocol 6), beside it.
    const current = await connected(hub, 'B', 6);
    await old.apply(MUG, receive(A, 10));
    await old.apply(MUG, release(A, 6));
    await until(async () => rightsOf(await hub.storage.open(MUG), onlineAccount(A)) === 6);

    await hubWrites(hub, MUG, grant(A, 2));
    const hubDoc = await hub.storage.open(MUG);
    const oldDoc = await old.storage.open(MUG);
    const currentDoc = await current.storage.open(MUG);
    await until(() => rightsOf(oldDoc, storeAccount(A)) === 6 && rightsOf(currentDoc, storeAccount(A)) === 6);

    // The old store holds a version 1 document: no online entries, no meta, its grants in `hub`.
    expect(schemaVersion(oldDoc)).toBe(1);
    expect([...ledgerOf(oldDoc).keys()].sort()).toEqual(['hub', 'store:A']);
    expect(rightsOf(oldDoc, onlineAccount(A))).toBe(4);
    // The other store reads version 2 as the hub does.
    expect(schemaVersion(currentDoc)).toBe(2);
    expect(rightsOf(currentDoc, onlineAccount(A))).toBe(4);
    expect(Y.encodeStateVector(currentDoc)).toEqual(Y.encodeStateVector(hubDoc));

    // A step 1 from the old store is answered within its share: it ends with nothing pending.
    old.disconnect();
    const again = await connected(hub, 'A', 5);
    expect(again.caughtUpCount()).toBe(1);
    const doc = await again.storage.open(MUG);
    expect(doc.store.pendingStructs).toBeNull();
    expect(schemaVersion(doc)).toBe(1);
  });

  it('upgraded in place to protocol 6, it catches up every SKU once and then holds the whole document', async () => {
    const hub = await TestHub.create();
    const adapter = new MemoryStorageAdapter();
    const old = await TestStore.create('A', adapter, 5);
    old.connect(hub);
    await until(() => old.caughtUpCount() === 1);
    await old.apply(MUG, receive(A, 10));
    await old.apply(MUG, release(A, 6));
    await until(async () => rightsOf(await hub.storage.open(MUG), onlineAccount(A)) === 6);
    await hubWrites(hub, MUG, grant(A, 2));
    await until(async () => rightsOf(await old.storage.open(MUG), storeAccount(A)) === 6);
    // Its cursor, saved as it goes, is current: a catch-up from it alone would never send version 2's part.
    old.disconnect();
    await until(async () => (await old.storage.loadCursor()).cursor === hub.storage.cursor());

    const upgraded = await TestStore.create('A', adapter, 6);
    upgraded.connect(hub);
    await until(() => upgraded.caughtUpCount() === 1);
    const doc = await upgraded.storage.open(MUG);
    const hubDoc = await hub.storage.open(MUG);
    expect(schemaVersion(doc)).toBe(2);
    expect(Y.encodeStateVector(doc)).toEqual(Y.encodeStateVector(hubDoc));
    expect(await upgraded.storage.loadCursor()).toMatchObject({ protocol: 6, cursor: hub.storage.cursor() });

    // A hub write it was not part of reaches it as to any version 2 store.
    await hubWrites(hub, MUG, grant(A, 1));
    await until(() => rightsOf(doc, storeAccount(A)) === rightsOf(hubDoc, storeAccount(A)));
    expect(Y.encodeStateVector(doc)).toEqual(Y.encodeStateVector(hubDoc));
  });

  it('once no such store is connected, the hub stops rewriting the hub entry', async () => {
    const hub = await TestHub.create();
    await heldBy(hub, MUG, 2);
    await hubWrites(hub, MUG, grant('s000' as StoreId, 1));
    const doc = await hub.storage.open(MUG);
    const mirror = JSON.stringify(ledgerOf(doc).get('hub'));
    await hubWrites(hub, MUG, grant('s001' as StoreId, 1));
    expect(JSON.stringify(ledgerOf(doc).get('hub'))).toBe(mirror);
  });
});
