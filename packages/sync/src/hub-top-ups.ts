import type { Sku } from '@shelfsync/protocol';
import * as Y from 'yjs';
import { untilCommitted } from './commit-wait.js';
import type { HubDocuments } from './hub-sync.js';

/**
 * How long a top-up waits for the store changes it names to be applied here. A
 * store waits far less (250 ms by default) and ignores a later answer; this
 * only bounds what a store that names changes it never sends can hold.
 */
const CLOCK_WAIT_MS = 5_000;

/** Top-ups one session may have waiting at once; an honest store has one per SKU its tills are short of. */
export const MAX_TOP_UPS_IN_FLIGHT = 256;

/**
 * The top-ups of one store session waiting at the hub for the store's changes
 * they name (ADR 0016): each wait is bounded in time, their number is bounded,
 * and all of them end with the session, so none outlives it.
 */
export class PendingTopUps {
  private waiting = 0;
  private readonly ended = new AbortController();

  constructor(private readonly documents: Pick<HubDocuments, 'open' | 'onCommit'>) {}

  get inFlight(): number {
    return this.waiting;
  }

  /** Resolves once the SKU's document holds `client`'s changes below `clock`, after a bounded wait, or at `endAll`. */
  async holding(sku: Sku, client: number, clock: number): Promise<void> {
    this.waiting++;
    try {
      await untilCommitted(
        this.documents,
        sku,
        (doc) => Y.getState(doc.store, client) >= clock,
        CLOCK_WAIT_MS,
        this.ended.signal,
      );
    } finally {
      this.waiting--;
    }
  }

  /** Ends every wait (the session closed): their requests get no answer. */
  endAll(): void {
    this.ended.abort();
  }
}
