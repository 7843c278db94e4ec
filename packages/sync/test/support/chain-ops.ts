import type { Operation } from '@shelfsync/core';
import { onlineAccount, storeAccount, type Sku, type StoreId } from '@shelfsync/protocol';
import { MemoryStorageAdapter } from '@shelfsync/storage';
import { expect, vi } from 'vitest';
import { STORE_PROTOCOL } from '../../src/index.js';
import { TestStore, type TestHub } from '../../src/testing/index.js';

/** Waits until `condition` holds (5 s at most). */
export const until = (condition: () => boolean | Promise<boolean>): Promise<void> =>
  vi.waitFor(async () => expect(await condition()).toBe(true), { timeout: 5000, interval: 2 });

export const receive = (id: StoreId, quantity: number): Operation => ({
  type: 'receive',
  account: storeAccount(id),
  quantity,
});

export const sell = (id: StoreId, quantity: number): Operation => ({
  type: 'sell',
  account: storeAccount(id),
  quantity,
});

/** The store moves rights from its till to its online escrow. */
export const release = (id: StoreId, quantity: number): Operation => ({
  type: 'transferRights',
  from: storeAccount(id),
  to: onlineAccount(id),
  quantity,
});

/** The hub moves rights from a location's online escrow to its till. */
export const grant = (id: StoreId, quantity: number): Operation => ({
  type: 'transferRights',
  from: onlineAccount(id),
  to: storeAccount(id),
  quantity,
});

/** The hub's own write, as the allocator makes it; it must apply. */
export async function hubWrites(hub: TestHub, target: Sku, op: Operation): Promise<void> {
  const result = await hub.engine.writeAsHub(target, 'grant', () => op);
  expect(result?.ok).toBe(true);
}

/** A store speaking `protocol`, connected to `hub` and caught up. */
export async function connected(hub: TestHub, id: string, protocol = STORE_PROTOCOL): Promise<TestStore> {
  const store = await TestStore.create(id, new MemoryStorageAdapter(), protocol);
  store.connect(hub);
  await until(() => store.caughtUpCount() === 1);
  return store;
}

/** Every store at rest: nothing waiting to be sent or acknowledged. */
export async function settled(hub: TestHub, stores: readonly TestStore[]): Promise<void> {
  await until(async () => {
    for (const store of stores) if ((await store.storage.dirty()).length > 0) return false;
    return hub.sync.storeLinks().every((link) => link.pendingUpdates === 0);
  });
}
