import { SkuSchema, type Sku } from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import { CatalogIndex, type CatalogSource } from '../src/catalog-index.js';

const sku = (value: string): Sku => SkuSchema.parse(value);

/** A hub's SKUs and commits, driven by the test. */
function source(initial: string[]): CatalogSource & { commit(value: string): void; listeners: number } {
  const listeners = new Set<(sku: Sku) => void>();
  return {
    allSkus: () => initial.map(sku),
    onCommit(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    commit(value) {
      for (const listener of listeners) listener(sku(value));
    },
    get listeners() {
      return listeners.size;
    },
  };
}

describe('catalog index', () => {
  it('walks the SKUs it started with in sorted order, from after the cursor', () => {
    const index = new CatalogIndex(source(['C', 'A', 'E', 'B', 'D']));
    expect(index.skusAfter(null, 2)).toEqual(['A', 'B']);
    expect(index.skusAfter(sku('B'), 2)).toEqual(['C', 'D']);
    // A cursor the catalog does not hold continues from the first SKU above it.
    expect(index.skusAfter(sku('BB'), 10)).toEqual(['C', 'D', 'E']);
    expect(index.skusAfter(sku('E'), 10)).toEqual([]);
  });

  it('adds a SKU once its first change is committed, and a walk under way still sees it in place', () => {
    const hub = source(['A', 'C', 'E']);
    const index = new CatalogIndex(hub);
    expect(index.skusAfter(null, 2)).toEqual(['A', 'C']);
    hub.commit('B');
    hub.commit('D');
    hub.commit('D');
    hub.commit('A');
    // Behind the cursor: the walk goes on where it was, the new SKU after it included.
    expect(index.skusAfter(sku('C'), 10)).toEqual(['D', 'E']);
    expect(index.skusAfter(null, 10)).toEqual(['A', 'B', 'C', 'D', 'E']);
  });

  it('stops following the commits when closed', () => {
    const hub = source(['A']);
    const index = new CatalogIndex(hub);
    expect(hub.listeners).toBe(1);
    index.close();
    expect(hub.listeners).toBe(0);
    hub.commit('B');
    expect(index.skusAfter(null, 10)).toEqual(['A']);
  });
});
