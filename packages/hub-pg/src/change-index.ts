import type { Sku } from '@shelfsync/protocol';
import type { HubChange } from '@shelfsync/sync';

/**
 * Each SKU's latest announced change and the head, in memory so the log's
 * reads answer synchronously. The Map is kept in change order (a SKU changed
 * again moves to the end), as in HubStorage, so `changedSince` could stop early.
 */
export class ChangeIndex {
  private readonly latest = new Map<Sku, HubChange>();
  private head = 0;

  constructor(entries: readonly (readonly [Sku, HubChange])[], head: number) {
    for (const [sku, change] of entries) this.latest.set(sku, change);
    this.head = head;
  }

  /** Records the change numbered `head + 1`; anything else is a caller's bug. */
  add(sku: Sku, change: HubChange): void {
    if (change.seq !== this.head + 1) throw new Error(`change ${change.seq} announced after ${this.head}`);
    this.latest.delete(sku);
    this.latest.set(sku, change);
    this.head = change.seq;
  }

  cursor(): number {
    return this.head;
  }

  changedSince(cursor: number): Sku[] {
    const changed: Sku[] = [];
    for (const [sku, change] of this.latest) if (change.seq > cursor) changed.push(sku);
    return changed;
  }

  changeOf(sku: Sku): HubChange | undefined {
    return this.latest.get(sku);
  }

  allSkus(): Sku[] {
    return [...this.latest.keys()];
  }

  skuCount(): number {
    return this.latest.size;
  }
}
