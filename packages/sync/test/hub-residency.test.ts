import { applyOperation, computeStock } from '@shelfsync/core';
import { storeAccount, storeWriter, type Sku, type StoreId } from '@shelfsync/protocol';
import { MemoryStorageAdapter } from '@shelfsync/storage';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { HubStorage, type ResidencyOptions } from '../src/index.js';
import { sku } from '../src/testing/index.js';
import { GatedAdapter } from './support/gated-adapter.js';

const STORE = 'A' as StoreId;

/** A clock the test moves by hand. */
function manualClock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

/** Writes one store operation into the hub's document of `target` and commits it, as the sync does. */
async function receive(storage: HubStorage, target: Sku, quantity: number): Promise<number> {
  const doc = await storage.open(target);
  let update: Uint8Array | null = null;
  const capture = (u: Uint8Array): void => void (update = u);
  doc.once('update', capture);
  const result = applyOperation(doc, storeWriter(STORE), { type: 'receive', account: storeAccount(STORE), quantity });
  expect(result.ok).toBe(true);
  if (update === null) throw new Error('no update captured');
  return storage.commit(target, update);
}

async function hubWith(
  residency: ResidencyOptions,
  adapter: MemoryStorageAdapter = new MemoryStorageAdapter(),
): Promise<{ storage: HubStorage; clock: ReturnType<typeof manualClock>; adapter: MemoryStorageAdapter }> {
  const clock = manualClock();
  const storage = await HubStorage.open(adapter, () => 'epoch', clock.now, { ...residency, now: clock.now });
  return { storage, clock, adapter };
}

describe('hub document residency', () => {
  it('evicts idle documents and loads them back with everything they held', async () => {
    const { storage, clock } = await hubWith({ evictIdleAfterMs: 60_000 });
    for (let i = 0; i < 5; i++) await receive(storage, sku(`S-${i}`), i + 1);
    expect(storage.residencyStats().resident).toBe(5);

    clock.advance(59_000);
    expect(storage.evictIdle()).toBe(0);
    clock.advance(1_000);
    expect(storage.evictIdle()).toBe(5);
    expect(storage.residencyStats()).toEqual({ resident: 0, evictions: 5 });

    for (let i = 0; i < 5; i++) expect(computeStock(await storage.open(sku(`S-${i}`))).value).toBe(i + 1);
  });

  it('never evicts a document whose update is still being written', async () => {
    const adapter = new GatedAdapter();
    const { storage, clock } = await hubWith({ evictIdleAfterMs: 1_000 }, adapter);
    const mug = sku('MUG');
    await receive(storage, mug, 3);

    adapter.hold();
    const pending = receive(storage, mug, 4);
    await adapter.waiting;
    clock.advance(10_000);
    expect(storage.evictIdle()).toBe(0);
    adapter.letThrough();
    await pending;

    clock.advance(10_000);
    expect(storage.evictIdle()).toBe(1);
    expect(computeStock(await storage.open(mug)).value).toBe(7);
  });

  it('keeps a pinned document (a live reader listens to it) until it is released', async () => {
    const { storage, clock } = await hubWith({ evictIdleAfterMs: 1_000 });
    const mug = sku('MUG');
    await receive(storage, mug, 2);
    const pinned = await storage.pin(mug);
    const seen: number[] = [];
    pinned.doc.on('update', () => seen.push(computeStock(pinned.doc).value));

    clock.advance(5_000);
    expect(storage.evictIdle()).toBe(0);
    await receive(storage, mug, 1);
    expect(seen).toEqual([3]);

    pinned.release();
    pinned.release(); // releasing twice must not unpin someone else
    clock.advance(5_000);
    expect(storage.evictIdle()).toBe(1);
  });

  it('beyond maxResidentDocs, the least recently used idle documents leave first', async () => {
    const { storage, clock } = await hubWith({ evictIdleAfterMs: 3_600_000, maxResidentDocs: 2 });
    for (const name of ['A', 'B', 'C', 'D']) await receive(storage, sku(name), 1);
    await storage.open(sku('A')); // A is now the most recently used
    clock.advance(1_000);
    expect(storage.evictIdle()).toBe(2);
    expect(storage.residencyStats().resident).toBe(2);
    // B and C went; A and D stay resident, so opening them does not reload.
    const a = await storage.open(sku('A'));
    expect(computeStock(a).value).toBe(1);
    expect(storage.residencyStats().resident).toBe(2);
  });

  it('appends across many evictions keep every update (record numbering survives forgetting)', async () => {
    const adapter = new MemoryStorageAdapter();
    const { storage, clock } = await hubWith({ evictIdleAfterMs: 1_000 }, adapter);
    const mug = sku('MUG');
    // 450 updates cross two compactions (every 200 records) with an eviction every 25.
    for (let i = 1; i <= 450; i++) {
      await receive(storage, mug, 1);
      if (i % 25 === 0) {
        clock.advance(2_000);
        expect(storage.evictIdle()).toBe(1);
      }
    }
    const reopened = await HubStorage.open(adapter, () => 'other');
    const doc = await reopened.open(mug);
    expect(computeStock(doc).value).toBe(450);
    expect(Y.encodeStateVector(doc)).toEqual(Y.encodeStateVector(await storage.open(mug)));
  });

  it('without evictIdleAfterMs every document stays resident', async () => {
    const { storage, clock } = await hubWith({});
    await receive(storage, sku('MUG'), 1);
    clock.advance(86_400_000);
    expect(storage.evictIdle()).toBe(0);
    expect(storage.residencyStats().resident).toBe(1);
  });
});
