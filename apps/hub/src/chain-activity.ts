import type Router from '@koa/router';
import { computeStock } from '@shelfsync/core';
import type { Logger, RequestState } from '@shelfsync/edge';
import { storeAccount, type ChainSummary, type Sku, type StoreId } from '@shelfsync/protocol';
import type { AllocatorEvent, HubSyncEvent } from '@shelfsync/sync';
import type * as Y from 'yjs';

/** Minutes of history the summary keeps and answers. */
const MINUTES = 30;
const MINUTE_MS = 60_000;
/** Refusals-with-stock kept for the alerts. */
const MAX_REFUSALS = 50;
/** (SKU, store) pairs whose committed total is remembered; past this the oldest are forgotten (a forgotten pair's next growth is not counted, once). */
const MAX_PAIRS = 200_000;

type Minute = ChainSummary['minutes'][number];
type ReservationOutcome = keyof Minute['reservations'];

const emptyMinute = (start: number): Minute => ({
  minute: new Date(start).toISOString(),
  sold: 0,
  refused: { locationEmpty: 0, escrowHeld: 0 },
  reservations: { held: 0, confirmed: 0, cancelled: 0, expired: 0, refused: 0 },
});

/**
 * What happens across the chain, by minute, as the hub sees it, for the
 * dashboard's chain view and alerts (GET /v1/summary). In memory only: a restart
 * starts the history afresh, which suits a live view; durable history belongs in
 * the Prometheus metrics.
 *
 * Sales are read from the documents, not reported: the growth of a store's POS
 * committed total (`n` of `store:X`) in each update the hub accepts. Refusals are
 * the top-ups the hub answered with nothing; a store that cannot reach the hub
 * refuses without the hub knowing (its own /metrics counts those).
 */
export class ChainActivity {
  private readonly minutes = new Map<number, Minute>();
  private readonly committed = new Map<string, number>();
  private readonly refusals: ChainSummary['refusedWithChainStock'] = [];

  constructor(
    private readonly documents: { open(sku: Sku): Promise<Y.Doc> },
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Feed of the hub sync's events: accepted store updates carry sales. */
  onSyncEvent(event: HubSyncEvent): void {
    if (event.type !== 'accepted') return;
    this.read(event.sku, (doc) => {
      const key = `${event.sku}\u0000${event.storeId}`;
      const total = computeStock(doc).accounts[storeAccount(event.storeId)]?.n ?? 0;
      const before = this.committed.get(key);
      this.committed.delete(key);
      this.committed.set(key, total);
      if (this.committed.size > MAX_PAIRS) {
        const oldest = this.committed.keys().next().value;
        if (oldest !== undefined) this.committed.delete(oldest);
      }
      // The first update of a pair since the hub started sets the baseline: earlier sales are not this minute's.
      if (before !== undefined && total > before) this.minute().sold += total - before;
    });
  }

  /** Feed of the allocator's events: a top-up that granted nothing is a refused sale. */
  onAllocatorEvent(event: AllocatorEvent): void {
    if (event.type !== 'topup' || event.granted > 0) return;
    const at = this.now();
    this.read(event.sku, (doc) => {
      const view = computeStock(doc);
      const here = view.locations[event.storeId];
      const held = (here?.posRights ?? 0) + (here?.onlineRights ?? 0);
      const refused = this.minute(at).refused;
      if (held < event.requested) refused.locationEmpty++;
      else refused.escrowHeld++;
      if (view.value >= event.requested)
        this.refusedWithStock(event.sku, event.storeId, at, event.requested, view.value);
    });
  }

  /** An online reservation call's outcome: a state, or the error code it was refused with. */
  reservation(outcome: string): void {
    const counts = this.minute().reservations;
    const known: readonly string[] = ['held', 'confirmed', 'cancelled', 'expired'];
    counts[known.includes(outcome) ? (outcome as ReservationOutcome) : 'refused']++;
  }

  summary(): ChainSummary {
    const current = this.startOf(this.now());
    const minutes: Minute[] = [];
    for (let start = current - (MINUTES - 1) * MINUTE_MS; start <= current; start += MINUTE_MS) {
      minutes.push(this.minutes.get(start) ?? emptyMinute(start));
    }
    return {
      generatedAt: new Date(this.now()).toISOString(),
      minutes,
      refusedWithChainStock: [...this.refusals],
    };
  }

  /** Registers GET /v1/summary. */
  routes(router: Router<RequestState>): void {
    router.get('/v1/summary', (ctx) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = this.summary();
    });
  }

  private refusedWithStock(sku: Sku, storeId: StoreId, at: number, requested: number, chainAvailable: number): void {
    this.refusals.unshift({ sku, storeId, at: new Date(at).toISOString(), requested, chainAvailable });
    if (this.refusals.length > MAX_REFUSALS) this.refusals.length = MAX_REFUSALS;
  }

  private read(sku: Sku, use: (doc: Y.Doc) => void): void {
    this.documents.open(sku).then(use, (error: unknown) => this.log.warn({ err: error, sku }, 'activity: read failed'));
  }

  private startOf(at: number): number {
    return at - (at % MINUTE_MS);
  }

  /** The bucket of the minute `at` falls in, created on first use; minutes past the window are dropped. */
  private minute(at = this.now()): Minute {
    const start = this.startOf(at);
    let bucket = this.minutes.get(start);
    if (bucket === undefined) {
      bucket = emptyMinute(start);
      this.minutes.set(start, bucket);
      for (const key of this.minutes.keys()) if (key <= start - MINUTES * MINUTE_MS) this.minutes.delete(key);
    }
    return bucket;
  }
}
