import { releaseForOrder } from '@shelfsync/escrow';
import type { Sku, StoreId } from '@shelfsync/protocol';
import type * as Y from 'yjs';
import { untilCommitted } from './commit-wait.js';
import { demandKey } from './demand-book.js';
import type { AllocatorEvent } from './hub-allocator.js';
import type { HubDocuments, HubSync } from './hub-sync.js';
import { hubMark, reservableShelf, storesOf } from './location-shelf.js';

/**
 * Online orders that no location's online escrow covers, waiting on a store to
 * release what they lack from its POS rights (ADR 0017). While one waits at a
 * location, the allocator grants none of that location's escrow back to its
 * till (`waiting`), so the released units stay for the order.
 */
export class OrderReleases {
  /** Per (SKU, store), online orders waiting on a release there. */
  private readonly awaiting = new Map<string, number>();

  constructor(
    private readonly documents: Pick<HubDocuments, 'open' | 'onCommit' | 'writerClients'>,
    private readonly sync: Pick<HubSync, 'send'>,
    private readonly releaseWaitMs: number,
    private readonly onEvent: (event: AllocatorEvent) => void,
  ) {}

  /** Whether an online order waits on a release at the store's location. */
  waiting(sku: Sku, storeId: StoreId): boolean {
    return this.awaiting.has(demandKey(sku, storeId));
  }

  /**
   * Asks a connected store whose shelf could cover an order of `quantity` (the
   * given one, or the one with the most POS rights) to release what the order
   * lacks, waits up to `releaseWaitMs` for its online rights to cover the order,
   * then runs `place` with that store. Null when no store could, none was
   * connected, or the release did not arrive in time.
   */
  async release<T>(
    sku: Sku,
    quantity: number,
    storeId: StoreId | undefined,
    place: (storeId: StoreId) => Promise<T>,
  ): Promise<T | null> {
    if (this.releaseWaitMs === 0) return null;
    const doc = await this.documents.open(sku);
    const candidates = (storeId === undefined ? storesOf(doc) : [storeId])
      .map((id) => ({ id, shelf: reservableShelf(doc, id) }))
      .filter((c) => releaseForOrder(c.shelf, quantity) !== null)
      .sort((a, b) => b.shelf.posRights - a.shelf.posRights);
    for (const { id } of candidates) {
      const key = demandKey(sku, id);
      this.awaiting.set(key, (this.awaiting.get(key) ?? 0) + 1);
      try {
        // Asks for what the order lacks, again whenever the hub's view of the till changes
        // (a sale on its way when it asked): true while the order still waits on a release.
        let asked: number | null = null;
        let reached = false;
        // Aborted once the till, as the hub now sees it, could no longer cover the order
        // (a sale that was on its way): waiting out releaseWaitMs would only delay the answer.
        const outgrown = new AbortController();
        const short = (current: Y.Doc): boolean => {
          const shelf = reservableShelf(current, id);
          const lacking = releaseForOrder(shelf, quantity);
          if (lacking === 0) return false;
          if (lacking === null) outgrown.abort();
          else if (shelf.posRights - lacking !== asked) {
            asked = shelf.posRights - lacking;
            reached = this.sync.send(id, {
              type: 'release',
              sku,
              target: asked,
              ...hubMark(current, this.documents.writerClients, id),
            });
          }
          return true;
        };
        if (!short(doc)) return await place(id);
        if (asked === null || !reached) continue;
        this.onEvent({ type: 'release-asked', storeId: id, sku, target: asked });
        const covered = await untilCommitted(
          this.documents,
          sku,
          (current) => !short(current),
          this.releaseWaitMs,
          outgrown.signal,
        );
        if (covered) return await place(id);
        if (!outgrown.signal.aborted) return null;
      } finally {
        const left = (this.awaiting.get(key) ?? 1) - 1;
        if (left > 0) this.awaiting.set(key, left);
        else this.awaiting.delete(key);
      }
    }
    return null;
  }
}
