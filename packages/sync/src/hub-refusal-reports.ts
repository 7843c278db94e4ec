import type { StoreId } from '@shelfsync/protocol';
import { TokenBucket } from './budget.js';
import type { Refused } from './control.js';
import type { HubSyncOptions } from './hub-sync.js';

/** How far back a report's `at` may lie: the chain summary's window. Older ones count in its first minute. */
export const REPORT_MAX_AGE_MS = 30 * 60_000;

/**
 * One session's reports of refused sales. A report is telemetry: one past the
 * session's budget is dropped and counted, never a reason to close the store's
 * link. Its time is the store's clock, clamped into the last 30 minutes of the
 * hub's, so no store can write into the future or far into the past of the
 * summary. Nothing but the display trusts it.
 */
export class RefusalReports {
  private readonly budget: TokenBucket;

  constructor(
    private readonly storeId: StoreId,
    private readonly options: HubSyncOptions,
  ) {
    this.budget = new TokenBucket(options.reportBudget, options.now);
  }

  receive(report: Refused): void {
    if (!this.budget.take()) {
      this.options.onEvent({ type: 'refusal-report-dropped', storeId: this.storeId });
      return;
    }
    const now = this.options.now();
    this.options.onEvent({
      type: 'refused',
      storeId: this.storeId,
      sku: report.sku,
      quantity: report.quantity,
      cause: report.cause,
      at: Math.min(now, Math.max(now - REPORT_MAX_AGE_MS, report.at)),
      chainAvailable: report.chainAvailable ?? null,
    });
  }
}
