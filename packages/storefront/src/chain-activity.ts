import { computeStock, readAccount } from '@shelfsync/core';
import {
  ChainSummarySchema,
  storeAccount,
  storeWriter,
  writerKey,
  type ChainSummary,
  type RefusalCause,
  type Sku,
} from '@shelfsync/protocol';
import { z } from 'zod';
import type { HubSyncEvent } from '@shelfsync/sync';
import type * as Y from 'yjs';
import type { WarningLog } from './ports.js';

/** Minutes of history the summary keeps and answers. */
const MINUTES = 30;
const MINUTE_MS = 60_000;
/** Refusals-with-stock kept for the alerts. */
const MAX_REFUSALS = 50;
/** (SKU, store) pairs whose committed total is remembered; past this the oldest are forgotten (a forgotten pair's next growth is not counted, once). */
const MAX_PAIRS = 200_000;

type Minute = ChainSummary['minutes'][number];

/**
 * What one hub node of a cluster reports to the others: the refusals its stores
 * reported and the reservation calls it answered, by minute, and its list of
 * refusals while the chain held the units. Not sales: every node reads those
 * from the documents, its own commits and the other nodes' alike.
 */
export const ActivityShareSchema = z.strictObject({
  minutes: z.array(ChainSummarySchema.shape.minutes.element.omit({ sold: true })),
  alerts: ChainSummarySchema.shape.refusedWithChainStock,
});
export type ActivityShare = z.infer<typeof ActivityShareSchema>;
type ReservationOutcome = keyof Minute['reservations'];
type Refusal = ChainSummary['refusedWithChainStock'][number];
type RefusedReport = Extract<HubSyncEvent, { type: 'refused' }>;

/** The summary's field for each cause; `escrowHeld` predates the others' names (a contract: extended, not renamed). */
const CAUSE_FIELD: Record<RefusalCause, keyof Minute['refused']> = {
  location_empty: 'locationEmpty',
  online_escrow: 'escrowHeld',
  hub_unreachable: 'hubUnreachable',
  topup_timeout: 'topUpTimeout',
};

const emptyMinute = (start: number): Minute => ({
  minute: new Date(start).toISOString(),
  sold: 0,
  refused: { locationEmpty: 0, escrowHeld: 0, hubUnreachable: 0, topUpTimeout: 0 },
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
 * what the stores report, by cause, in the minute the store refused (a store cut
 * off reports once it is back). Not inferred from top-up answers: one that grants
 * nothing may leave the store holding rights an earlier rebalance granted, and
 * the store then sells (ADR 0016); and a store cut off never asks.
 */
export class ChainActivity {
  private readonly minutes = new Map<number, Minute>();
  private readonly committed = new Map<string, number>();
  private readonly refusals: Refusal[] = [];

  constructor(
    private readonly documents: { open(sku: Sku): Promise<Y.Doc>; changeOf(sku: Sku): unknown },
    private readonly log: WarningLog,
    private readonly now: () => number = Date.now,
  ) {}

  /** Feed of the hub sync's events: accepted store updates carry sales; stores report their refusals. */
  onSyncEvent(event: HubSyncEvent): void {
    if (event.type === 'refused') this.refused(event);
    if (event.type !== 'accepted') return;
    this.read(event.sku, (doc) => {
      const key = `${event.sku}\u0000${event.storeId}`;
      // One account read, not the whole document's stock: this runs for every store update the hub applies.
      const total = readAccount(doc, writerKey(storeWriter(event.storeId)), storeAccount(event.storeId)).n;
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

  /**
   * A store's report of a refused sale: counted in the minute it was refused (at
   * the earliest the window's first, so a late report still shows). Whether the
   * chain had the units is judged on the hub's own document when it holds the SKU,
   * not on the store's word; for a SKU the hub never received, the store's view is
   * all there is.
   */
  private refused(report: RefusedReport): void {
    const at = Math.max(report.at, this.windowStart());
    this.minute(at).refused[CAUSE_FIELD[report.cause]]++;
    const listIf = (chainAvailable: number | null): void => {
      if (chainAvailable === null || chainAvailable < report.quantity) return;
      this.listRefusal({
        sku: report.sku,
        storeId: report.storeId,
        at: new Date(at).toISOString(),
        requested: report.quantity,
        chainAvailable,
        cause: report.cause,
      });
    };
    // Opening an unknown SKU would create its document: a report never does.
    if (this.documents.changeOf(report.sku) === undefined) {
      listIf(report.chainAvailable);
      return;
    }
    this.documents.open(report.sku).then(
      (doc) => listIf(computeStock(doc).value),
      (error: unknown) => {
        this.log.warn({ err: error, sku: report.sku }, 'activity: read failed');
        listIf(report.chainAvailable);
      },
    );
  }

  /** An online reservation call's outcome: a state, or the error code it was refused with. */
  reservation(outcome: string): void {
    const counts = this.minute().reservations;
    const known: readonly string[] = ['held', 'confirmed', 'cancelled', 'expired'];
    counts[known.includes(outcome) ? (outcome as ReservationOutcome) : 'refused']++;
  }

  /**
   * GET /v1/summary: the last 30 minutes, oldest first, and the latest refusals
   * while the chain held the units, newest first. On a cluster, what the other
   * nodes report (`others`) is added in: every node answers the same.
   */
  summary(others: readonly ActivityShare[] = []): ChainSummary {
    const current = this.startOf(this.now());
    const minutes: Minute[] = [];
    for (let start = current - (MINUTES - 1) * MINUTE_MS; start <= current; start += MINUTE_MS) {
      const own = this.minutes.get(start) ?? emptyMinute(start);
      minutes.push(others.length === 0 ? own : withOthers(own, start, others));
    }
    const alerts = [...this.refusals, ...others.flatMap((share) => share.alerts)]
      .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0))
      .slice(0, MAX_REFUSALS);
    return { generatedAt: new Date(this.now()).toISOString(), minutes, refusedWithChainStock: alerts };
  }

  /** This node's own reports, for the other nodes of a cluster (`ActivityShare`). */
  share(): ActivityShare {
    const from = this.windowStart();
    return {
      minutes: [...this.minutes]
        .filter(([start]) => start >= from)
        .map(([, { minute, refused, reservations }]) => ({
          minute,
          refused: { ...refused },
          reservations: { ...reservations },
        })),
      alerts: [...this.refusals],
    };
  }

  /** Keeps the list newest first by the time of the refusal: a late report of an old one goes behind newer ones. */
  private listRefusal(refusal: Refusal): void {
    const index = this.refusals.findIndex((r) => r.at <= refusal.at);
    this.refusals.splice(index === -1 ? this.refusals.length : index, 0, refusal);
    if (this.refusals.length > MAX_REFUSALS) this.refusals.length = MAX_REFUSALS;
  }

  private read(sku: Sku, use: (doc: Y.Doc) => void): void {
    this.documents.open(sku).then(use, (error: unknown) => this.log.warn({ err: error, sku }, 'activity: read failed'));
  }

  private startOf(at: number): number {
    return at - (at % MINUTE_MS);
  }

  /** The start of the oldest minute the summary answers. */
  private windowStart(): number {
    return this.startOf(this.now()) - (MINUTES - 1) * MINUTE_MS;
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

/** A minute of this node's with the same minute of every other node's reports added. */
function withOthers(own: Minute, start: number, others: readonly ActivityShare[]): Minute {
  const minute = { ...own, refused: { ...own.refused }, reservations: { ...own.reservations } };
  for (const share of others) {
    const theirs = share.minutes.find((m) => Date.parse(m.minute) === start);
    if (theirs === undefined) continue;
    for (const key of Object.keys(minute.refused) as (keyof Minute['refused'])[]) {
      minute.refused[key] += theirs.refused[key];
    }
    for (const key of Object.keys(minute.reservations) as (keyof Minute['reservations'])[]) {
      minute.reservations[key] += theirs.reservations[key];
    }
  }
  return minute;
}
