import type { Sku } from '@shelfsync/protocol';

/** What the index follows: the hub's SKUs now, and each durable commit after. */
export interface CatalogSource {
  allSkus(): Sku[];
  onCommit(listener: (sku: Sku) => void): () => void;
}

/**
 * Every SKU the hub holds, in sorted order, for the storefront's stable walk of
 * the catalog (`GET /v1/skus`). Seeded from the hub's SKUs when the storefront
 * starts and kept current from its commits: a new SKU joins the walk once its
 * first change is durable. New SKUs wait in a set until the next walk, which
 * sorts them in once, so a burst of them costs one sort, not one insertion each.
 */
export class CatalogIndex {
  private sorted: Sku[];
  /** SKUs committed since the last walk that `sorted` does not hold yet. */
  private readonly fresh = new Set<Sku>();
  private readonly stop: () => void;

  constructor(source: CatalogSource) {
    this.sorted = source.allSkus().sort();
    this.stop = source.onCommit((sku) => {
      if (!this.fresh.has(sku) && !this.holds(sku)) this.fresh.add(sku);
    });
  }

  /** Up to `limit` SKUs after `after` in sorted order (from the first without it): a stable walk of the catalog. */
  skusAfter(after: Sku | null, limit: number): Sku[] {
    if (this.fresh.size > 0) {
      this.sorted = [...this.sorted, ...this.fresh].sort();
      this.fresh.clear();
    }
    const start = after === null ? 0 : this.firstAbove(after);
    return this.sorted.slice(start, start + limit);
  }

  /** Stops following the hub's commits. */
  close(): void {
    this.stop();
  }

  private holds(sku: Sku): boolean {
    const index = this.firstAbove(sku) - 1;
    return index >= 0 && this.sorted[index] === sku;
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
