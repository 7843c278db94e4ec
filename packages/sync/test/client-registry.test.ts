import { applyOperation } from '@shelfsync/core';
import { capture, copyOf } from '@shelfsync/core/testing';
import {
  ErrorCode,
  HUB_WRITER,
  onlineAccount,
  storeAccount,
  storeWriter,
  type StoreId,
  type WriterKey,
} from '@shelfsync/protocol';
import { MemoryStorageAdapter } from '@shelfsync/storage';
import { describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { ClientRegistry } from '../src/client-registry.js';
import { MAX_CLIENTS_PER_WRITER, SyncMessageType, encodeDocFrame } from '../src/index.js';
import { TestHub, TestStore, sku } from '../src/testing/index.js';

const MUG = sku('MUG-1');
const TEA = sku('TEA-1');
const until = (condition: () => boolean | Promise<boolean>): Promise<void> =>
  vi.waitFor(async () => expect(await condition()).toBe(true), { timeout: 5000, interval: 2 });

const receive = (id: StoreId, quantity: number) => ({ type: 'receive' as const, account: storeAccount(id), quantity });

/** A store's honest operation on `target`, written under `client` instead of its own id. */
async function writtenAs(store: TestStore, target: typeof MUG, client: number): Promise<Uint8Array> {
  const doc = copyOf(await store.storage.open(target), client);
  return capture(doc, (d) => applyOperation(d, storeWriter(store.id), receive(store.id, 5)));
}

/** Sends `update` of `target` from `store` and waits for the hub's verdict on it. */
async function send(hub: TestHub, store: TestStore, target: typeof MUG, update: Uint8Array, ref: number) {
  const seen = hub.events.length;
  store.link?.send(encodeDocFrame(target, ref, SyncMessageType.Update, update));
  await until(() => hub.events.slice(seen).some((e) => e.type === 'rejected' || e.type === 'accepted'));
  return hub.events.slice(seen).find((e) => e.type === 'rejected' || e.type === 'accepted');
}

/** A hub on a fresh adapter, store A's receipt of 10 MUG accepted, then the hub stopped: its data stays in `adapter`. */
async function storeSoldThenHubStopped(): Promise<{ adapter: MemoryStorageAdapter; a: TestStore; hubId: number }> {
  const adapter = new MemoryStorageAdapter();
  const first = await TestHub.create({}, adapter);
  const [a] = await connected(first, 'A');
  if (a === undefined) throw new Error('no store');
  await a.apply(MUG, receive(a.id, 10));
  await until(async () => (await first.stock(MUG)).value === 10);
  const hubId = first.storage.hubClientId;
  first.sync.close();
  await first.storage.close();
  return { adapter, a, hubId };
}

async function connected(hub: TestHub, ...ids: string[]): Promise<TestStore[]> {
  const stores = await Promise.all(ids.map((id) => TestStore.create(id)));
  for (const store of stores) store.connect(hub);
  await until(() => stores.every((s) => s.caughtUpCount() === 1));
  return stores;
}

describe("client ids are reserved across documents, from the hub's durable registry", () => {
  it("a store writing under the hub's client id in a SKU the hub never wrote is refused; the hub keeps its id", async () => {
    const hub = await TestHub.create();
    const [a] = await connected(hub, 'A');
    if (a === undefined) throw new Error('no store');
    const hubId = hub.storage.hubClientId;
    expect(hub.storage.clientOwner(hubId)).toBe('hub');

    const verdict = await send(hub, a, TEA, await writtenAs(a, TEA, hubId), 100);
    expect(verdict).toMatchObject({ type: 'rejected', code: ErrorCode.UpdateClientIdTaken });
    expect((await hub.stock(TEA)).value).toBe(0);

    // The document rests on the neutral id, and the hub writes TEA's version 1 entry under its own id, as before.
    const doc = await hub.storage.open(TEA);
    const clients = hub.storage.writerClients;
    expect(doc.clientID).toBe(clients.neutral);
    const update = capture(doc, (d) =>
      applyOperation(
        d,
        HUB_WRITER,
        { type: 'receive', account: onlineAccount('A' as StoreId), quantity: 3 },
        null,
        clients,
      ),
    );
    expect(doc.clientID).toBe(clients.neutral);
    expect(Y.decodeUpdate(update).structs.map((s) => s.id.client)).toEqual([hubId]);

    // The store's own id goes through, and is now reserved to it.
    expect(await send(hub, a, TEA, await writtenAs(a, TEA, a.storage.clientId), 101)).toMatchObject({
      type: 'accepted',
    });
    expect(hub.storage.clientOwner(a.storage.clientId)).toBe('store:A');
  });

  it("a store reusing another store's client id is refused, even in a SKU the other store never touched", async () => {
    const hub = await TestHub.create();
    const [a, b] = await connected(hub, 'A', 'B');
    if (a === undefined || b === undefined) throw new Error('no stores');
    await a.apply(MUG, receive(a.id, 10));
    await until(async () => (await hub.stock(MUG)).value === 10);
    expect(hub.storage.clientOwner(a.storage.clientId)).toBe('store:A');

    const verdict = await send(hub, b, TEA, await writtenAs(b, TEA, a.storage.clientId), 100);
    expect(verdict).toMatchObject({ type: 'rejected', code: ErrorCode.UpdateClientIdTaken });
    expect((await hub.stock(TEA)).value).toBe(0);
  });

  it('the registry survives a hub restart', async () => {
    const { adapter, a, hubId } = await storeSoldThenHubStopped();

    const hub = await TestHub.create({}, adapter);
    expect(hub.storage.hubClientId).toBe(hubId);
    expect(hub.storage.clientOwner(hubId)).toBe('hub');
    expect(hub.storage.clientOwner(a.storage.clientId)).toBe('store:A');
    const [b] = await connected(hub, 'B');
    if (b === undefined) throw new Error('no store');
    expect(await send(hub, b, TEA, await writtenAs(b, TEA, a.storage.clientId), 100)).toMatchObject({
      type: 'rejected',
      code: ErrorCode.UpdateClientIdTaken,
    });
    expect(await send(hub, b, TEA, await writtenAs(b, TEA, hubId), 101)).toMatchObject({
      type: 'rejected',
      code: ErrorCode.UpdateClientIdTaken,
    });
  });

  it('a reservation is taken at once and rides with every commit until one is durable; another writer cannot take it', async () => {
    const hub = await TestHub.create();
    const first = hub.storage.reserveClients('store:A', [77]);
    // A first update of the same store in another SKU, racing the first: it carries the record too.
    const second = hub.storage.reserveClients('store:A', [77]);
    expect(first).toHaveLength(1);
    expect(second).toEqual(first);
    expect(hub.storage.clientOwner(77)).toBe('store:A');
    expect(() => hub.storage.reserveClients('store:B', [77])).toThrow(/reserved to store:A/);

    if (typeof first === 'string') throw new Error(first);
    await hub.storage.commit(MUG, Y.encodeStateAsUpdate(new Y.Doc()), first);
    expect(hub.storage.reserveClients('store:A', [77])).toEqual([]);
    expect(() => hub.storage.reserveClients('store:A', [hub.storage.hubClientId])).toThrow(/reserved to hub/);
  });

  it('an update brings at most one new client id, and a writer holds at most one id per replica it ever had', async () => {
    const hub = await TestHub.create();
    expect(hub.storage.reserveClients('store:A', [501, 502])).toMatch(/one new client id/);
    expect(hub.storage.clientOwner(501)).toBeUndefined();
    for (let i = 0; i < MAX_CLIENTS_PER_WRITER; i++)
      expect(hub.storage.reserveClients('store:A', [1_000 + i])).toHaveLength(1);
    expect(hub.storage.reserveClients('store:A', [5_000])).toMatch(/already writes under/);
    // Its ids stay its own: an update under them needs no new reservation.
    expect(hub.storage.reserveClients('store:A', [1_000])).toHaveLength(1);
  });

  it('data written before the registry: at the first start, every id its documents hold is recorded as its writer', async () => {
    const { adapter, a } = await storeSoldThenHubStopped();
    // As a hub of the previous release left it: documents, no registry, no mark.
    await adapter.removeRange(['hub', 'client']);
    await adapter.remove(['hub', 'clients-adopted']);

    const hub = await TestHub.create({}, adapter);
    expect(hub.storage.clientOwner(a.storage.clientId)).toBe('store:A');
    const [b] = await connected(hub, 'B');
    if (b === undefined) throw new Error('no store');
    // B cannot take A's id in a SKU A never touched, which would lock A out of every SKU.
    expect(await send(hub, b, TEA, await writtenAs(b, TEA, a.storage.clientId), 100)).toMatchObject({
      type: 'rejected',
      code: ErrorCode.UpdateClientIdTaken,
    });
  });

  it("the hub's version 2 writers (online accounts, meta) survive a restart like the others; a row naming no writer is skipped", async () => {
    const adapter = new MemoryStorageAdapter();
    const registry = await ClientRegistry.load(adapter);
    await registry.adopt(
      new Map<number, WriterKey>([
        [701, 'online:north'],
        [702, 'online:dc'],
        [703, 'meta'],
        [704, 'store:north'],
      ]),
    );
    await adapter.writeBatch([
      { key: ['hub', 'client', '705'], data: new TextEncoder().encode(JSON.stringify({ writer: 'online:' })) },
    ]);

    const reloaded = await ClientRegistry.load(adapter);
    expect([701, 702, 703, 704, 705].map((client) => reloaded.owner(client))).toEqual([
      'online:north',
      'online:dc',
      'meta',
      'store:north',
      undefined,
    ]);
  });
});
