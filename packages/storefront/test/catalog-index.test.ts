import { SkuSchema, type Sku } from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import { CatalogIndex, type CatalogSource } from '../src/catalog-index.js';

const sku = (value: string): Sku => SkuSchema.parse(value);

/** A hub's SKUs, in the order it first committed them, as the test adds them; counts the full listings. */
function source(initial: string[]): CatalogSource & { add(value: string): void; listings: number } {
  const skus = initial.map(sku);
  let listings = 0;
  return {
    allSkus: () => {
      listings++;
      return [...skus];
    },
    skuCount: () => skus.length,
    add(value) {
      skus.push(sku(value));
    },
    get listings() {
      return listings;
    },
  };
}

describe('catalog index', () => {
  it('walks the SKUs in sorted order, from after the cursor', () => {
    const index = new CatalogIndex(source(['C', 'A', 'E', 'B', 'D']));
    expect(index.skusAfter(null, 2)).toEqual(['A', 'B']);
    expect(index.skusAfter(sku('B'), 2)).toEqual(['C', 'D']);
    // A cursor the catalog does not hold continues from the first SKU above it.
    expect(index.skusAfter(sku('BB'), 10)).toEqual(['C', 'D', 'E']);
    expect(index.skusAfter(sku('E'), 10)).toEqual([]);
  });

  it('lists a new SKU on the next walk, in place, and sorts only after the log grows', () => {
    const hub = source(['A', 'C', 'E']);
    const index = new CatalogIndex(hub);
    expect(index.skusAfter(null, 2)).toEqual(['A', 'C']);
    expect(index.skusAfter(sku('C'), 10)).toEqual(['E']);
    expect(hub.listings).toBe(1);
    hub.add('B');
    hub.add('D');
    // Behind the cursor: the walk goes on where it was, the new SKU after it included.
    expect(index.skusAfter(sku('C'), 10)).toEqual(['D', 'E']);
    expect(index.skusAfter(null, 10)).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(hub.listings).toBe(2);
  });

  it('walks an empty catalog', () => {
    expect(new CatalogIndex(source([])).skusAfter(null, 10)).toEqual([]);
  });
});
