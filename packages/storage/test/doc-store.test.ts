import { applyOperation, computeStock, createSkuDoc } from '@shelfsync/core';
import { StoreIdSchema, storeAccount, storeWriter } from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { DocStore, MemoryStorageAdapter, RecordStore } from '../src/index.js';
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

describe('DocStore', () => {
  it('loads what was appended, in order, as one transaction', async () => {
    const store = new DocStore(new MemoryStorageAdapter());
    const { updates: list } = updates(5);
    for (const u of list) await store.appendUpdate('MUG', u);
    const doc = createSkuDoc();
    let transactions = 0;
    doc.on('afterTransaction', () => transactions++);
    expect(await store.load('MUG', doc)).toBe(true);
    expect(computeStock(doc).value).toBe(5);
    expect(transactions).toBe(1);
    expect(await store.load('NONE', createSkuDoc())).toBe(false);
  });

  it('compaction keeps the state and removes the update records; a reopened store appends after it', async () => {
    const adapter = new MemoryStorageAdapter();
    const store = new DocStore(adapter, { compactEvery: 3 });
    const { doc, updates: list } = updates(4);
    for (const u of list.slice(0, 3)) await store.appendUpdate('MUG', u);
    expect(store.needsCompaction('MUG')).toBe(true);
    await store.compact(
      'MUG',
      (() => {
        const d = createSkuDoc();
        for (const u of list.slice(0, 3)) Y.applyUpdate(d, u);
        return d;
      })(),
    );
    expect(store.needsCompaction('MUG')).toBe(false);
    expect(await adapter.keys(['doc', 'MUG', 'u'])).toEqual([]);

    const reopened = new DocStore(adapter, { compactEvery: 3 });
    await reopened.appendUpdate('MUG', list[3] as Uint8Array);
    expect(await adapter.keys(['doc', 'MUG', 'u'])).toHaveLength(1);
    const loaded = createSkuDoc();
    await reopened.load('MUG', loaded);
    expect(Y.encodeStateVector(loaded)).toEqual(Y.encodeStateVector(doc));
    expect(computeStock(loaded).value).toBe(4);
  });

  it('lists every SKU with anything stored', async () => {
    const store = new DocStore(new MemoryStorageAdapter());
    const { updates: list } = updates(1);
    for (const sku of ['B-2', 'A-1', 'C-3']) await store.appendUpdate(sku, list[0] as Uint8Array);
    expect(await store.skus()).toEqual(['A-1', 'B-2', 'C-3']);
  });
});

describe('RecordStore', () => {
  it('stores JSON and parses it on the way out; putWrite fits an atomic batch', async () => {
    const adapter = new MemoryStorageAdapter();
    const records = new RecordStore(adapter);
    const schema = z.object({ n: z.number() });
    await records.put(['r', '1'], { n: 1 });
    expect(await records.get(['r', '1'], schema)).toEqual({ n: 1 });
    await adapter.writeBatch([records.putWrite(['r', '2'], { n: 2 })]);
    expect(await records.get(['r', '2'], schema)).toEqual({ n: 2 });
    await records.delete(['r', '1']);
    expect(await records.get(['r', '1'], schema)).toBeUndefined();
    await records.put(['r', '3'], { n: 'x' });
    await expect(records.get(['r', '3'], schema)).rejects.toThrow();
  });
});
