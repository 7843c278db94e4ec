import { applyOperation } from '@shelfsync/core';
import { AllocatorConfigSchema } from '@shelfsync/escrow';
import { storeAccount, storeWriter, type Sku, type StoreId } from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import { HubAllocator, type HubDocuments } from '../src/index.js';
import { TestHub, sku } from './support/chain.js';

const NORTH = 'north' as StoreId;

describe('hub allocator sweep', () => {
  it('visits at most `limit` pairs per call, round-robin, so a sweep never loads the whole catalog at once', async () => {
    const hub = await TestHub.create();
    const opened: string[] = [];
    const counting: HubDocuments = {
      epoch: hub.storage.epoch,
      open: (target: Sku) => {
        opened.push(target);
        return hub.storage.open(target);
      },
      commit: (target, update, extra) => hub.storage.commit(target, update, extra),
      cursor: () => hub.storage.cursor(),
      changedSince: (cursor) => hub.storage.changedSince(cursor),
      allSkus: () => hub.storage.allSkus(),
    };
    const allocator = new HubAllocator(counting, hub.sync, AllocatorConfigSchema.parse({}), () => 1_000);
    const skus = ['A', 'B', 'C', 'D', 'E'].map(sku);
    for (const s of skus) {
      // A store's receipt, then a sale: demand the allocator keeps following.
      const doc = await hub.storage.open(s);
      applyOperation(doc, storeWriter(NORTH), { type: 'receive', account: storeAccount(NORTH), quantity: 10 });
      await allocator.accepted(NORTH, s);
      applyOperation(doc, storeWriter(NORTH), { type: 'sell', account: storeAccount(NORTH), quantity: 1 });
      await allocator.accepted(NORTH, s);
    }
    expect(allocator.tracked).toBe(5);

    const round = async (): Promise<string[]> => {
      opened.length = 0;
      await allocator.sweep(2);
      // A pair whose shelf needs a move is read twice (the quick check, then in write order).
      return [...new Set(opened)];
    };
    expect(await round()).toEqual(['A', 'B']);
    expect(await round()).toEqual(['C', 'D']);
    expect(await round()).toEqual(['E', 'A']);
    expect(await round()).toEqual(['B', 'C']);
    expect(allocator.tracked).toBe(5);
  });
});
