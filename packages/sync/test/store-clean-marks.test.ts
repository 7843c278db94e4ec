import { applyOperation } from '@shelfsync/core';
import { storeAccount, storeWriter, type Sku, type StoreId } from '@shelfsync/protocol';
import { MemoryStorageAdapter, type StorageKey } from '@shelfsync/storage';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { StoreStorage } from '../src/index.js';
import { sku } from '../src/testing/index.js';

const A = 'A' as StoreId;
const MUG = sku('MUG');
const TEA = sku('TEA');
const JAM = sku('JAM');

/** An in-memory adapter that holds key listings under one prefix until the test lets them through. */
class HeldListings extends MemoryStorageAdapter {
  private held: { prefix: string; gate: Promise<void>; open: () => void } | null = null;

  hold(prefix: StorageKey): void {
    let open = (): void => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    this.held = { prefix: prefix.join('/'), gate, open };
  }

  letThrough(): void {
    this.held?.open();
    this.held = null;
  }

  override async keys(prefix: StorageKey): Promise<StorageKey[]> {
    const held = this.held;
    if (held !== null && prefix.join('/').startsWith(held.prefix)) await held.gate;
    return super.keys(prefix);
  }
}

/** A sale made the way the store node makes one; resolves once it is durable. */
async function sell(storage: StoreStorage, target: Sku): Promise<void> {
  const doc = await storage.open(target);
  const updates: Uint8Array[] = [];
  const collect = (update: Uint8Array): void => void updates.push(update);
  doc.on('update', collect);
  applyOperation(doc, storeWriter(A), { type: 'receive', account: storeAccount(A), quantity: 1 });
  doc.off('update', collect);
  const update = updates[0];
  if (update === undefined) throw new Error('no update');
  await storage.recordLocal(target, update);
}

/** A sale's update made on a document the storage has not opened. */
function saleElsewhere(): Uint8Array {
  const doc = new Y.Doc();
  let update: Uint8Array | undefined;
  doc.on('update', (u: Uint8Array) => (update = u));
  applyOperation(doc, storeWriter(A), { type: 'receive', account: storeAccount(A), quantity: 1 });
  if (update === undefined) throw new Error('no update');
  return update;
}

/** The dirty marks a restart would find. */
async function storedDirty(adapter: MemoryStorageAdapter): Promise<Sku[]> {
  return (await (await StoreStorage.open(adapter)).dirty()).sort();
}

describe('dirty marks cleaned by acknowledgements', () => {
  it('are removed with the next write, not with one of their own', async () => {
    const adapter = new MemoryStorageAdapter();
    const storage = await StoreStorage.open(adapter);
    await sell(storage, MUG);
    await storage.markClean([MUG]);
    expect(storage.isDirty(MUG)).toBe(false);
    // Nothing written yet: a crash now would cost MUG one needless exchange.
    expect(await storedDirty(adapter)).toEqual([MUG]);

    await sell(storage, TEA);
    expect(await storedDirty(adapter)).toEqual([TEA]);
  });

  it('are stored once enough gather, and on request', async () => {
    const adapter = new MemoryStorageAdapter();
    const storage = await StoreStorage.open(adapter);
    const many = Array.from({ length: 70 }, (_, i) => sku(`S${String(i).padStart(2, '0')}`));
    for (const target of many) await sell(storage, target);
    await storage.markClean(many.slice(0, 63));
    expect((await storedDirty(adapter)).length).toBe(70);
    await storage.markClean(many.slice(63, 64));
    expect(await storedDirty(adapter)).toEqual(many.slice(64));

    await storage.markClean(many.slice(64));
    expect((await storedDirty(adapter)).length).toBe(6);
    await storage.flushCleanMarks();
    expect(await storedDirty(adapter)).toEqual([]);
  });

  it('keep the mark of a SKU sold again before the write that carries them is issued', async () => {
    const adapter = new HeldListings();
    const storage = await StoreStorage.open(adapter);
    await sell(storage, MUG);
    await storage.markClean([MUG]);

    // JAM's first write waits on its sequence lookup; MUG is sold again meanwhile
    // and its mark is issued first. JAM's batch must not carry MUG's removal.
    adapter.hold(['doc', JAM]);
    const jam = storage.recordLocal(JAM, saleElsewhere());
    await sell(storage, MUG);
    adapter.letThrough();
    await jam;

    expect(storage.isDirty(MUG)).toBe(true);
    expect(await storedDirty(adapter)).toEqual([JAM, MUG]);
  });
});
