import type { RefusalCause, Sku } from '@shelfsync/protocol';
import { TokenBucket, type RateBudget } from './budget.js';
import { RefusedSchema, type Refused } from './control.js';

/** Refusal reports a store sends at most: half the hub's per-session report budget, so none is dropped there. */
const STORE_REPORT_BUDGET: RateBudget = { burst: 100, perSecond: 10 };
/** Refusal reports kept for the hub at most (the latest; older ones are dropped and counted). */
export const MAX_QUEUED_REPORTS = 256;
const MAX_UNITS = 1_000_000_000;

/** A sale the store refused for want of rights, as the store node hands it over. */
export interface RefusalReport {
  readonly sku: Sku;
  readonly quantity: number;
  readonly cause: RefusalCause;
  /** The chain's uncommitted units as the store knows them. */
  readonly chainAvailable?: number;
  /** Epoch ms of the refusal; now when absent. */
  readonly at?: number;
}

/**
 * The store's queue of refusal reports for the hub. In memory only (best effort:
 * a restart loses it), bounded to the latest 256, and sent within the store's own
 * budget, well inside the hub's, so the hub never has to drop an honest store's.
 */
export class StoreRefusalReports {
  private readonly queue: Refused[] = [];
  private readonly budget: TokenBucket;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private droppedTotal = 0;
  private droppedUntold = 0;

  constructor(
    private readonly now: () => number,
    /** Where to send now: a sender while connected and caught up, else null. */
    private readonly sender: () => ((report: Refused) => void) | null,
    /** Reports dropped from the full queue since the last call, told once sending resumes. */
    private readonly onDropped: (count: number) => void,
  ) {
    this.budget = new TokenBucket(STORE_REPORT_BUDGET, now);
  }

  get dropped(): number {
    return this.droppedTotal;
  }

  get queued(): number {
    return this.queue.length;
  }

  add(refusal: RefusalReport): void {
    const within = (n: number): number => Math.min(MAX_UNITS, Math.max(0, Math.round(n)));
    const chainAvailable = refusal.chainAvailable;
    const report = RefusedSchema.safeParse({
      type: 'refused',
      sku: refusal.sku,
      quantity: Math.max(1, within(refusal.quantity)),
      cause: refusal.cause,
      at: Math.round(refusal.at ?? this.now()),
      // A document in deficit can show fewer than none: a report carries no negative count.
      ...(chainAvailable === undefined || !Number.isFinite(chainAvailable)
        ? {}
        : { chainAvailable: within(chainAvailable) }),
    });
    // Never one the hub would find malformed: that would close the link.
    if (!report.success) return;
    this.queue.push(report.data);
    if (this.queue.length > MAX_QUEUED_REPORTS) {
      this.queue.shift();
      this.droppedTotal++;
      this.droppedUntold++;
    }
    this.flush();
  }

  /** Sends what the budget allows now, if there is somewhere to send; the rest follow on a timer. */
  flush(): void {
    const send = this.sender();
    if (send === null) return;
    if (this.droppedUntold > 0) {
      this.onDropped(this.droppedUntold);
      this.droppedUntold = 0;
    }
    while (this.queue.length > 0 && this.budget.take()) {
      const report = this.queue.shift();
      if (report !== undefined) send(report);
    }
    if (this.queue.length > 0 && this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, 1000 / STORE_REPORT_BUDGET.perSecond);
      // A timer must never keep a process alive on its own.
      if (typeof this.timer === 'object' && 'unref' in this.timer) this.timer.unref();
    }
  }
}
