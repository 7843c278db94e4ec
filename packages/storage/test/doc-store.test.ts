import { applyOperation, computeStock, createSkuDoc } from '@shelfsync/core';
import { StoreIdSchema, storeAccount, storeWriter } from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  DocStore,
  MemoryStorageAdapter,
  RecordStore,
  type StorageAdapter,
  type StorageChunk,
  type StorageKey,
} from '../src/index.js';
import { z } from 'zod';

const s1 = StoreIdSchema.parse('s1');

/** Real updates: receipts of 1 unit each on store s1's account. */
function updates(count: number): { doc: Y.Doc; updates: Uint8Array[] } {
  const doc = createSkuDoc();
  const out: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => out.push(u));
  for (let i = 0; i < count; i++)
    applyOperation(doc, storeWriter(s1), { type: 'receive', account: storeAccount(s1), quantity: 1 });
  return { doc, updates: out };
}

/** A document holding exactly `list`. */
function docOf(list: readonly Uint8Array[]): Y.Doc {
  const doc = createSkuDoc();
  for (const u of list) Y.applyUpdate(doc, u);
  return doc;
}

/** The sequence numbers of the stored update records of `sku`. */
async function seqs(adapter: StorageAdapter, sku: string): Promise<number[]> {
  return (await adapter.keys(['doc', sku, 'u'])).map((key) => Number(key[3]));
}

/** A memory adapter that records its reads, to show what a DocStore reads. */
class ReadCountingAdapter extends MemoryStorageAdapter {
  readonly reads: string[] = [];

  override load(key: StorageKey): Promise<Uint8Array | undefined> {
    this.reads.push('load');
    return super.load(key);
  }

  override loadRange(prefix: StorageKey): Promise<StorageChunk[]> {
    this.reads.push('loadRange');
    return super.loadRange(prefix);
  }

  override keys(prefix: StorageKey): Promise<StorageKey[]> {
    this.reads.push('keys');
    return super.keys(prefix);
  }
}

describe('DocStore', () => {
  it('loads what was appended, in order, as one transaction with LOAD_ORIGIN', async () => {
    const adapter = new MemoryStorageAdapter();
    const store = new DocStore(adapter);
    const { doc: original, updates: list } = updates(5);
    for (const u of list) await store.appendUpdate('MUG', u);
    expect(await adapter.keys(['doc', 'MUG'])).toEqual(
      [1, 2, 3, 4, 5].map((n): StorageKey => ['doc', 'MUG', 'u', String(n).padStart(12, '0')]),
    );
    const doc = createSkuDoc();
    const origins: unknown[] = [];
    doc.on('afterTransaction', (transaction: Y.Transaction) => origins.push(transaction.origin));
    expect(await store.load('MUG', doc)).toBe(true);
    expect(computeStock(doc).value).toBe(5);
    expect(origins).toEqual([DocStore.LOAD_ORIGIN]);
    expect(Y.encodeStateAsUpdate(doc)).toEqual(Y.encodeStateAsUpdate(original));
    expect(await store.load('NONE', createSkuDoc())).toBe(false);
  });

  it('loads a snapshot together with the updates stored after it', async () => {
    const adapter = new MemoryStorageAdapter();
    const store = new DocStore(adapter);
    const { doc: original, updates: list } = updates(6);
    for (const u of list.slice(0, 4)) await store.appendUpdate('MUG', u);
    await store.compact('MUG', docOf(list.slice(0, 4)));
    for (const u of list.slice(4)) await store.appendUpdate('MUG', u);
    expect(await adapter.keys(['doc', 'MUG'])).toHaveLength(3); // snapshot and two updates
    const doc = createSkuDoc();
    expect(await store.load('MUG', doc)).toBe(true);
    expect(computeStock(doc).value).toBe(6);
    expect(Y.encodeStateVector(doc)).toEqual(Y.encodeStateVector(original));
  });

  it('compaction keeps the state and removes the update records; a reopened store appends after it', async () => {
    const adapter = new MemoryStorageAdapter();
    const store = new DocStore(adapter, { compactEvery: 3 });
    const { doc, updates: list } = updates(4);
    for (const u of list.slice(0, 3)) await store.appendUpdate('MUG', u);
    expect(store.needsCompaction('MUG')).toBe(true);
    await store.compact('MUG', docOf(list.slice(0, 3)));
    expect(store.needsCompaction('MUG')).toBe(false);
    expect(await adapter.keys(['doc', 'MUG'])).toEqual([['doc', 'MUG', 'snapshot']]);

    const reopened = new DocStore(adapter, { compactEvery: 3 });
    await reopened.appendUpdate('MUG', list[3] as Uint8Array);
    expect(await adapter.keys(['doc', 'MUG', 'u'])).toHaveLength(1);
    const loaded = createSkuDoc();
    await reopened.load('MUG', loaded);
    expect(Y.encodeStateVector(loaded)).toEqual(Y.encodeStateVector(doc));
    expect(computeStock(loaded).value).toBe(4);
  });

  it('continues the sequence after a compaction and after a reopen', async () => {
    const adapter = new MemoryStorageAdapter();
    const store = new DocStore(adapter);
    const { updates: list } = updates(8);
    for (const u of list.slice(0, 3)) await store.appendUpdate('MUG', u);
    await store.compact('MUG', docOf(list.slice(0, 3)));
    await store.appendUpdate('MUG', list[3] as Uint8Array);
    expect(await seqs(adapter, 'MUG')).toEqual([4]);
    await store.appendUpdate('MUG', list[4] as Uint8Array);

    // A new DocStore on the same data learns the last number from the stored keys.
    const reopened = new DocStore(adapter);
    await reopened.appendUpdate('MUG', list[5] as Uint8Array);
    expect(await seqs(adapter, 'MUG')).toEqual([4, 5, 6]);
    // Also when its first touch of the SKU is a load.
    const again = new DocStore(adapter);
    await again.load('MUG', createSkuDoc());
    await again.appendUpdate('MUG', list[6] as Uint8Array);
    await again.appendUpdate('MUG', list[7] as Uint8Array);
    expect(await seqs(adapter, 'MUG')).toEqual([4, 5, 6, 7, 8]);
    const loaded = createSkuDoc();
    await new DocStore(adapter).load('MUG', loaded);
    expect(computeStock(loaded).value).toBe(8);
  });

  it('numbers concurrent appends uniquely', async () => {
    const adapter = new MemoryStorageAdapter();
    const store = new DocStore(adapter);
    const { updates: list } = updates(20);
    await Promise.all(list.map((u) => store.appendUpdate('MUG', u)));
    expect(await seqs(adapter, 'MUG')).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const loaded = createSkuDoc();
    await store.load('MUG', loaded);
    expect(computeStock(loaded).value).toBe(20);
  });

  it('needsCompaction flips at compactEvery, per SKU, and back after compaction', async () => {
    const adapter = new MemoryStorageAdapter();
    const store = new DocStore(adapter, { compactEvery: 4 });
    const { updates: list } = updates(4);
    expect(store.needsCompaction('MUG')).toBe(false);
    for (const u of list.slice(0, 3)) await store.appendUpdate('MUG', u);
    expect(store.needsCompaction('MUG')).toBe(false);
    await store.appendUpdate('MUG', list[3] as Uint8Array);
    expect(store.needsCompaction('MUG')).toBe(true);
    expect(store.needsCompaction('CUP')).toBe(false);

    // After a restart, as soon as the SKU is loaded.
    const reopened = new DocStore(adapter, { compactEvery: 4 });
    expect(reopened.needsCompaction('MUG')).toBe(false); // not touched yet
    const doc = createSkuDoc();
    await reopened.load('MUG', doc);
    expect(reopened.needsCompaction('MUG')).toBe(true);

    // Not while a compaction of the SKU runs: concurrent appends must not each start one.
    const compaction = reopened.compact('MUG', doc);
    expect(reopened.needsCompaction('MUG')).toBe(false);
    await compaction;
    expect(reopened.needsCompaction('MUG')).toBe(false);
    expect(await seqs(adapter, 'MUG')).toEqual([]);
  });

  it('lists every SKU with anything stored, sorted, from the keys alone', async () => {
    const adapter = new ReadCountingAdapter();
    const store = new DocStore(adapter);
    const { updates: list } = updates(2);
    for (const sku of ['B-2', 'A-1', 'C-3', 'A-1']) await store.appendUpdate(sku, list[0] as Uint8Array);
    await store.compact('C-3', docOf(list.slice(0, 1))); // a snapshot alone still counts
    await adapter.save(['other', 'Z-9'], Uint8Array.from([1]));
    adapter.reads.length = 0;
    expect(await store.skus()).toEqual(['A-1', 'B-2', 'C-3']);
    expect(adapter.reads).toEqual(['keys']);
    expect(await new DocStore(new MemoryStorageAdapter()).skus()).toEqual([]);
  });

  it('rejects an invalid SKU, and does not remember the failure', async () => {
    const adapter = new MemoryStorageAdapter();
    const store = new DocStore(adapter);
    const { updates: list } = updates(1);
    await expect(store.appendUpdate('no spaces', list[0] as Uint8Array)).rejects.toThrow(TypeError);
    await expect(store.appendUpdate('no spaces', list[0] as Uint8Array)).rejects.toThrow(TypeError);
    expect(await adapter.keys(['doc'])).toEqual([]);
  });
});

describe('RecordStore', () => {
  it('stores JSON and parses it on the way out; putWrite fits an atomic batch', async () => {
    const adapter = new MemoryStorageAdapter();
    const records = new RecordStore(adapter);
    const schema = z.object({ n: z.number() });
    await records.put(['r', '1'], { n: 1 });
    expect(await records.get(['r', '1'], schema)).toEqual({ n: 1 });
    expect(new TextDecoder().decode(await adapter.load(['r', '1']))).toBe('{"n":1}');
    await adapter.writeBatch([records.putWrite(['r', '2'], { n: 2 }), { key: ['r', '1'], remove: true }]);
    expect(await records.get(['r', '2'], schema)).toEqual({ n: 2 });
    expect(await records.get(['r', '1'], schema)).toBeUndefined();
    await records.put(['r', '1'], { n: 3 });
    await records.delete(['r', '1']);
    expect(await records.get(['r', '1'], schema)).toBeUndefined();
    await records.put(['r', '3'], { n: 'x' });
    await expect(records.get(['r', '3'], schema)).rejects.toThrow();
  });
});
