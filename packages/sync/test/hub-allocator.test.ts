import { AllocatorConfigSchema } from '@shelfsync/escrow';
import type { Sku, StoreId } from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import { HubAllocator, type HubDocuments } from '../src/index.js';
import { TestHub, sku } from './support/chain.js';

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
    const allocator = new HubAllocator(counting, hub.sync, AllocatorConfigSchema.parse({}), () => 0);
    const skus = ['A', 'B', 'C', 'D', 'E'].map(sku);
    for (const s of skus) await allocator.accepted('north' as StoreId, s);
    expect(allocator.tracked).toBe(5);

    opened.length = 0;
    await allocator.sweep(2);
    expect(opened).toEqual(['A', 'B']);
    opened.length = 0;
    await allocator.sweep(2);
    expect(opened).toEqual(['C', 'D']);
    opened.length = 0;
    await allocator.sweep(2);
    expect(opened).toEqual(['E']);
    // No sales, nothing to move: each visited pair's demand was forgotten after its visit.
    expect(allocator.tracked).toBe(0);
  });
});
