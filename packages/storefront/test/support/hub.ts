import { applyOperation, type Operation } from '@shelfsync/core';
import { SkuSchema, StoreIdSchema, storeAccount, storeWriter, type Sku, type StoreId } from '@shelfsync/protocol';
import { MemoryStorageAdapter } from '@shelfsync/storage';
import { HubStorage } from '@shelfsync/sync';
import type { FeedTimers } from '../../src/index.js';

export const sku = (value: string): Sku => SkuSchema.parse(value);
export const store = (value: string): StoreId => StoreIdSchema.parse(value);

/** The epoch the test hub starts, and how ETags and event ids carry it. */
export const EPOCH = 'epoch-1';
export const EPOCH_TAG = 'epoch1';

/** A clock the test moves by hand. */
export function manualClock(start = Date.UTC(2025, 0, 6, 9)) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

/** The hub's real storage, in memory. */
export function openHub(now: () => number = Date.now): Promise<HubStorage> {
  return HubStorage.open(new MemoryStorageAdapter(), () => EPOCH, now);
}

/** One store operation on the hub's document, committed as the hub commits a store's update; the change number. */
export async function commit(storage: HubStorage, target: Sku, at: StoreId, operation: Operation): Promise<number> {
  const doc = await storage.open(target);
  let update: Uint8Array | null = null;
  doc.once('update', (u: Uint8Array) => void (update = u));
  const result = applyOperation(doc, storeWriter(at), operation);
  if (!result.ok) throw new Error(`${operation.type} refused: ${result.error.detail}`);
  if (update === null) throw new Error('the operation wrote nothing');
  return storage.commit(target, update);
}

/** A store's receipt of `quantity` units, committed at the hub. */
export function receive(storage: HubStorage, target: Sku, at: StoreId, quantity: number): Promise<number> {
  return commit(storage, target, at, { type: 'receive', account: storeAccount(at), quantity });
}

/** A store's sale of `quantity` units, committed at the hub. */
export function sell(storage: HubStorage, target: Sku, at: StoreId, quantity: number): Promise<number> {
  return commit(storage, target, at, { type: 'sell', account: storeAccount(at), quantity });
}

/** Timers that run only when the test says: `flush()` runs the one-shot timers due, `beat()` the repeating ones. */
export function manualTimers(): FeedTimers & { flush(): void; beat(): void; readonly armed: number } {
  const once = new Set<() => void>();
  const every = new Set<() => void>();
  return {
    once(_ms, run) {
      once.add(run);
      return () => once.delete(run);
    },
    every(_ms, run) {
      every.add(run);
      return () => every.delete(run);
    },
    flush() {
      const due = [...once];
      once.clear();
      for (const run of due) run();
    },
    beat() {
      for (const run of [...every]) run();
    },
    get armed() {
      return once.size + every.size;
    },
  };
}
