import { applyOperation, computeStock } from '@shelfsync/core';
import { CloseCode, storeAccount, storeWriter, type Sku, type StoreId } from '@shelfsync/protocol';
import { MemoryStorageAdapter } from '@shelfsync/storage';
import { describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import {
  HubStorage,
  StoreStorage,
  StoreSync,
  SyncMessageType,
  createTransportPair,
  decodeFrame,
  encodeDocFrame,
  type StoreSyncEvent,
} from '../src/index.js';
import { TestHub, TestStore, sku } from '../src/testing/index.js';
import { emptyWelcome } from './support/raw-session.js';
import { GatedAdapter } from './support/gated-adapter.js';

const A = 'A' as StoreId;
const MUG = sku('MUG');
const TEA = sku('TEA');

/** Applies a store operation the way the store node does; returns the update and its durable write. */
async function local(storage: StoreStorage, target: Sku, type: 'receive' | 'sell', quantity: number) {
  const doc = await storage.open(target);
  const updates: Uint8Array[] = [];
  const collect = (update: Uint8Array): void => void updates.push(update);
  doc.on('update', collect);
  const result = applyOperation(doc, storeWriter(A), { type, account: storeAccount(A), quantity });
  doc.off('update', collect);
  expect(result.ok).toBe(true);
  const update = updates[0];
  if (update === undefined) throw new Error('no update');
  return { update, durable: storage.recordLocal(target, update) };
}

describe('store replica identity', () => {
  it('keeps one client id across restarts, so 1,000 restarts leave the document small', async () => {
    const adapter = new MemoryStorageAdapter();
    let ids = 0;
    const newId = (): number => 1000 + ids++;
    let storage = await StoreStorage.open(adapter, newId);
    await (
      await local(storage, MUG, 'receive', 5000)
    ).durable;
    const before = Y.encodeStateAsUpdate(await storage.open(MUG)).byteLength;

    for (let restart = 0; restart < 1000; restart++) {
      storage = await StoreStorage.open(adapter, newId);
      const doc = await storage.open(MUG);
      // Set after loading: a load under the same id would make Yjs pick a new one.
      expect(doc.clientID).toBe(1000);
      await (
        await local(storage, MUG, 'sell', 1)
      ).durable;
    }

    storage = await StoreStorage.open(adapter, newId);
    const doc = await storage.open(MUG);
    expect(ids).toBe(1);
    expect(computeStock(doc).value).toBe(4000);
    expect(Y.decodeStateVector(Y.encodeStateVector(doc)).size).toBe(1);
    // With a fresh id per start this grew by about 23 bytes per restart (22.9 KB after 1,000).
    expect(Y.encodeStateAsUpdate(doc).byteLength).toBeLessThan(before + 64);
  });

  it('a data directory without an identity is a fresh replica until its first sync is recorded', async () => {
    const adapter = new MemoryStorageAdapter();
    const fresh = await StoreStorage.open(adapter);
    expect(fresh.firstSyncDone).toBe(false);
    expect((await StoreStorage.open(adapter)).firstSyncDone).toBe(false);
    await fresh.markFirstSyncDone();
    const reopened = await StoreStorage.open(adapter);
    expect(reopened.firstSyncDone).toBe(true);
    expect(reopened.clientId).toBe(fresh.clientId);
  });

  it('data from before identities were kept counts as synced (its documents hold the store’s writes)', async () => {
    const adapter = new MemoryStorageAdapter();
    await adapter.save(['doc', 'MUG', 'snapshot'], Y.encodeStateAsUpdate(new Y.Doc()));
    expect((await StoreStorage.open(adapter)).firstSyncDone).toBe(true);
  });

  it('the hub keeps its client id too, and gives one to data that had none', async () => {
    const adapter = new MemoryStorageAdapter();
    await adapter.save(['hub', 'meta'], new TextEncoder().encode(JSON.stringify({ epoch: 'old', cursor: 3 })));
    const first = await HubStorage.open(
      adapter,
      () => 'new',
      Date.now,
      {},
      () => 77,
    );
    expect(first.epoch).toBe('old');
    expect(first.cursor()).toBe(3);
    expect(first.hubClientId).toBe(77);
    // Documents rest on the neutral id, drawn from the same source and kept too.
    const neutral = first.writerClients.neutral;
    expect(neutral).not.toBe(77);
    expect((await first.open(MUG)).clientID).toBe(neutral);
    const second = await HubStorage.open(
      adapter,
      () => 'new',
      Date.now,
      {},
      () => 99,
    );
    expect(second.hubClientId).toBe(77);
    expect((await second.open(TEA)).clientID).toBe(neutral);
  });
});

describe('nothing leaves a store before it is durable', () => {
  it('a step 2 that carries a local change waits until that change is stored', async () => {
    const adapter = new GatedAdapter();
    const storage = await StoreStorage.open(adapter);
    const sync = new StoreSync(A, storage);
    const [storeSide, hubSide] = createTransportPair();
    const log: string[] = [];
    const received: string[] = [];
    hubSide.onMessage((bytes) => {
      const frame = decodeFrame(bytes);
      if (frame.kind === 'doc') received.push(`${frame.type}:${frame.sku}`);
      if (frame.kind === 'doc' && frame.type === SyncMessageType.Step2) log.push(`step2:${frame.sku}`);
    });
    sync.attach(storeSide);
    hubSide.send(emptyWelcome());
    await vi.waitFor(() => expect(sync.status().caughtUp).toBe(true));

    adapter.hold();
    const sale = await local(storage, MUG, 'receive', 3);
    sync.localUpdate(MUG, sale.update, sale.durable);
    void sale.durable.then(() => log.push('durable'));
    await adapter.waiting;

    // The hub asks for MUG, then TEA. Frames are handled in order, so TEA's answer
    // shows the store is past MUG. The gate opens then, or after 200 ms at most:
    // the timer only bounds the wait, the assertion is on the order.
    hubSide.send(encodeDocFrame(MUG, 0, SyncMessageType.Step1, Y.encodeStateVector(new Y.Doc())));
    hubSide.send(encodeDocFrame(TEA, 0, SyncMessageType.Step1, Y.encodeStateVector(new Y.Doc())));
    const opened = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 200);
      const check = setInterval(() => {
        if (received.includes(`${SyncMessageType.Step2}:${TEA}`)) {
          clearTimeout(timer);
          resolve();
        }
      }, 1);
      void sale.durable.finally(() => clearInterval(check));
    });
    await opened;
    adapter.letThrough();
    await sale.durable;
    await vi.waitFor(() => expect(log).toContain(`step2:${MUG}`));
    expect(log).toEqual(['durable', `step2:${MUG}`, `step2:${TEA}`]);
  });

  it('a local change that cannot be stored halts the sync: nothing more is sent, no new connection is taken', async () => {
    const hub = await TestHub.create();
    const adapter = new GatedAdapter();
    const events: StoreSyncEvent[] = [];
    // The test store's storage, under a sync of our own that records its events.
    const store = await TestStore.create('A', adapter);
    const sync = new StoreSync(A, store.storage, { onEvent: (event) => events.push(event) });
    const [storeSide, hubSide] = createTransportPair();
    hub.sync.connect(A, hubSide);
    sync.attach(storeSide);
    await vi.waitFor(() => expect(sync.status().caughtUp).toBe(true));
    const stocked = await local(store.storage, MUG, 'receive', 10);
    sync.localUpdate(MUG, stocked.update, stocked.durable);
    await vi.waitFor(async () => expect((await hub.stock(MUG)).value).toBe(10));

    adapter.hold();
    const sale = await local(store.storage, MUG, 'sell', 4);
    sync.localUpdate(MUG, sale.update, sale.durable);
    await adapter.waiting;
    adapter.fail();
    await expect(sale.durable).rejects.toThrow(/ENOSPC/);
    await vi.waitFor(() => expect(sync.status().halted).toMatch(/could not be stored/));
    expect(events.some((e) => e.type === 'closed' && e.code === CloseCode.InternalError.code)).toBe(true);

    const [again, hubAgain] = createTransportPair();
    const closed = new Promise<number>((resolve) => hubAgain.onClose((code) => resolve(code)));
    sync.attach(again);
    expect(await closed).toBe(CloseCode.InternalError.code);
    expect((await hub.stock(MUG)).value).toBe(10);
  });
});
