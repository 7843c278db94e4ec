import type { Sku, StoreId } from '@shelfsync/protocol';
import * as Y from 'yjs';
import { TokenBucket, type RateBudget } from './budget.js';
import { untilCommitted } from './commit-wait.js';
import type { TopUp, TopUpResult } from './control.js';
import type { AllocatorHooks, HubDocuments, TopUpAnswer } from './hub-sync.js';
import { hubMark } from './location-shelf.js';

/**
 * How long a top-up waits for the store changes it names to be applied here. A
 * store waits far less (250 ms by default) and ignores a later answer; this
 * only bounds what a store that names changes it never sends can hold.
 */
const CLOCK_WAIT_MS = 5_000;

/** Top-ups one session may have waiting at once; an honest store has one per SKU its tills are short of. */
export const MAX_TOP_UPS_IN_FLIGHT = 256;

/** The answer when no allocator is attached: nothing granted. */
const NO_ALLOCATOR: TopUpAnswer = { granted: 0, available: 0, rights: 0 };

/**
 * The top-ups of one store session (ADR 0016): admitted within the session's
 * budget, each waiting at the hub for the store's changes it names before the
 * allocator decides. Each wait is bounded in time, their number is bounded, and
 * all of them end with the session, so none outlives it.
 */
export class SessionTopUps {
  private waiting = 0;
  private readonly ended = new AbortController();
  private readonly tokens: TokenBucket;

  constructor(
    private readonly documents: Pick<HubDocuments, 'open' | 'onCommit' | 'writerClients'>,
    private readonly storeId: StoreId,
    /** The allocator attached now, read when each top-up is decided. */
    private readonly allocator: () => AllocatorHooks | null,
    budget: RateBudget,
    now: () => number,
  ) {
    this.tokens = new TokenBucket(budget, now);
  }

  /** Whether one more top-up is within the session's budget: below the in-flight bound, and a token taken. */
  admit(): boolean {
    return this.waiting < MAX_TOP_UPS_IN_FLIGHT && this.tokens.take();
  }

  /**
   * Answers `request` with `send`: once the SKU's document holds the store's
   * changes it names, the allocator's decision, and the hub's own client id and
   * clock for the SKU after it (the grant's changes included), which the store
   * waits to hold. No answer if the session is no longer `live` by then.
   */
  async answer(
    request: TopUp,
    live: () => boolean,
    send: (result: TopUpResult) => void,
    version1Reader = false,
  ): Promise<void> {
    await this.holding(request.sku, request.client, request.clock);
    if (!live()) return;
    const allocator = this.allocator();
    const answer =
      allocator === null ? NO_ALLOCATOR : await allocator.topUp(this.storeId, request.sku, request.quantity);
    const doc = await this.documents.open(request.sku);
    const hub = hubMark(doc, this.documents.writerClients, this.storeId, version1Reader);
    send({ type: 'topup-result', ref: request.ref, sku: request.sku, ...answer, ...hub });
  }

  /** Ends every wait (the session closed): their requests get no answer. */
  endAll(): void {
    this.ended.abort();
  }

  /** Resolves once the SKU's document holds `client`'s changes below `clock`, after a bounded wait, or at `endAll`. */
  private async holding(sku: Sku, client: number, clock: number): Promise<void> {
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
}
