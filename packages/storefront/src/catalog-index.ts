import type { Sku } from '@shelfsync/protocol';

/** What the index is built from: the hub's change log. */
export interface CatalogSource {
  allSkus(): Sku[];
  skuCount(): number;
}

/**
 * Every SKU the hub holds, in sorted order, for the storefront's stable walk of
 * the catalog (`GET /v1/skus`). Sorted again on the first walk after the log
 * holds a new SKU, so a burst of new SKUs costs one sort. A SKU is listed from
 * when the log first holds it, as a read of it (`changeOf`) finds it: a client
 * that has read a new SKU finds it in the walk too.
 */
export class CatalogIndex {
  private sorted: Sku[] = [];

  constructor(private readonly source: CatalogSource) {}

  /** Up to `limit` SKUs after `after` in sorted order (from the first without it): a stable walk of the catalog. */
  skusAfter(after: Sku | null, limit: number): Sku[] {
    // SKUs are never removed from the log: a different count means new ones.
    if (this.sorted.length !== this.source.skuCount()) this.sorted = this.source.allSkus().sort();
    const start = after === null ? 0 : this.firstAbove(after);
    return this.sorted.slice(start, start + limit);
  }

  /** The index of the first sorted SKU greater than `sku` (binary search). */
  private firstAbove(sku: Sku): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.sorted[mid] ?? '') <= sku) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
