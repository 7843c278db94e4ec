import type { Logger, Metrics, PeerLogLimiter } from '@shelfsync/edge';
import type { AllocatorEvent, HubAllocator, HubSync, HubSyncEvent, HubWriteRecord } from '@shelfsync/sync';

/** What the hub reports to its metrics and logs. */
export interface HubObserver {
  syncEvent(event: HubSyncEvent): void;
  allocatorEvent(event: AllocatorEvent): void;
  /** One of the hub's own writes is done (or failed), in its lane. */
  hubWrite(write: HubWriteRecord): void;
  /** A reservation call ended with `outcome` (its state, or the error code). */
  reservation(outcome: string): void;
  /** Adds the gauges read from the sync and the documents in memory when scraped. */
  watchSync(sync: HubSync, documents: { residencyStats(): { resident: number } }): void;
  /** Adds the gauges of the override deficits the allocator has not settled yet. */
  watchAllocator(allocator: HubAllocator): void;
}

/**
 * The hub's sync, escrow and reservation metrics and the log lines that go with
 * them: what the sync and the allocator report, turned into Prometheus series
 * and logs.
 */
export function hubMetrics(metrics: Metrics, log: Logger, peerLog: PeerLogLimiter): HubObserver {
  const merged = metrics.counter(
    'shelfsync_store_updates_merged_total',
    'Store updates this hub node validated, committed and relayed',
  );
  const rejected = metrics.counter('shelfsync_rejected_updates_total', 'Store updates the hub refused, by code', [
    'code',
  ]);
  const overBudget = metrics.counter('shelfsync_sync_budget_exceeded_total', 'Sessions closed over budget', ['budget']);
  const grants = metrics.counter('shelfsync_escrow_grants_total', 'Rights granted online:X > store:X', ['reason']);
  const grantedUnits = metrics.counter('shelfsync_escrow_granted_units_total', 'Units of rights granted', ['reason']);
  const releases = metrics.counter('shelfsync_escrow_release_requests_total', 'Releases asked of stores');
  const topUps = metrics.histogram('shelfsync_escrow_topup_duration_seconds', 'Hub time to decide and write a top-up', [
    'granted',
  ]);
  const deficitSettled = metrics.counter(
    'shelfsync_override_deficit_settled_units_total',
    "Manager-override deficit units the hub settled, by how: covered (rights granted from the online escrow) or repaid (by the store's own receipts)",
    ['how'],
  );
  const reservationOutcomes = metrics.counter('shelfsync_reservations_total', 'Reservation calls by outcome', [
    'outcome',
  ]);
  const refusalsReported = metrics.counter(
    'shelfsync_store_refusals_reported_total',
    'Sales the stores report they refused for want of rights, by cause (location_empty, hub_unreachable, online_escrow, topup_timeout): a store cut off reports once it is back',
    ['cause'],
  );
  const hubWrites = metrics.histogram(
    'shelfsync_hub_write_duration_seconds',
    "The hub's own writes of a SKU document, from asked to durable and relayed (the wait behind earlier writes of the SKU included), by lane and outcome",
    ['lane', 'outcome'],
  );
  const reportsDropped = metrics.counter(
    'shelfsync_store_refusal_reports_dropped_total',
    "Stores' refusal reports dropped past their session's report budget (the session goes on)",
  );
  return {
    syncEvent(event) {
      if (event.type === 'accepted') merged.inc();
      if (event.type === 'rejected') rejected.inc({ code: event.code });
      if (event.type === 'budget-exceeded') overBudget.inc({ budget: event.budget });
      if (event.type === 'refused') refusalsReported.inc({ cause: event.cause });
      if (event.type === 'refusal-report-dropped') reportsDropped.inc();
      logSyncEvent(log, peerLog, event);
    },
    allocatorEvent(event) {
      if (event.type === 'grant') {
        grants.inc({ reason: event.reason });
        grantedUnits.inc({ reason: event.reason }, event.quantity);
      } else if (event.type === 'release-asked') releases.inc();
      else if (event.type === 'deficit') {
        deficitSettled.inc({ how: 'covered' }, event.granted);
        deficitSettled.inc({ how: 'repaid' }, event.settled - event.granted);
        if (event.outstanding > 0) log.warn(event, 'override deficit outstanding: no online rights left to cover it');
      } else topUps.observe({ granted: event.granted > 0 ? 'yes' : 'no' }, event.ms / 1000);
      if (event.type !== 'deficit' || event.outstanding === 0) log.debug(event, `escrow ${event.type}`);
    },
    hubWrite(write) {
      hubWrites.observe({ lane: write.lane, outcome: write.outcome }, (write.waitedMs + write.ms) / 1000);
      if (write.outcome === 'failed') log.warn(write, 'hub write failed');
      else log.trace(write, 'hub write');
    },
    reservation(outcome) {
      reservationOutcomes.inc({ outcome });
    },
    watchSync(sync, documents) {
      metrics.reading(
        'shelfsync_connected_stores',
        'Stores with a live sync session',
        () => sync.storeLinks().filter((l) => l.connected).length,
      );
      metrics.readings(
        'shelfsync_store_outbound_buffered_bytes',
        'Bytes queued to each live store, unsent',
        'store',
        () => sync.bufferedBytes(),
      );
      metrics.reading('shelfsync_resident_docs', 'SKU documents in memory', () => documents.residencyStats().resident);
    },
    watchAllocator(allocator) {
      metrics.reading(
        'shelfsync_override_deficit_outstanding_units',
        'Manager-override units sold beyond rights that no online rights could cover yet, chain-wide',
        () => allocator.deficits().units,
      );
      metrics.reading(
        'shelfsync_reservations_at_risk_units',
        'Reserved units at stores whose outstanding override deficit may have sold them',
        () => allocator.deficits().reservationsAtRisk,
      );
    },
  };
}

/** What a store does wrong is logged at most a few lines per store and window (`PeerLogLimiter`). */
function logSyncEvent(log: Logger, peerLog: PeerLogLimiter, event: HubSyncEvent): void {
  switch (event.type) {
    case 'accepted':
      log.debug(event, 'update accepted');
      return;
    case 'refused':
      log.debug(event, 'store reports a refused sale');
      return;
    case 'rejected':
    case 'protocol-error':
    case 'slow-consumer':
    case 'budget-exceeded':
    case 'refusal-report-dropped':
      peerLog.warn(`store:${event.storeId}`, { ...event }, event.type);
      return;
    case 'connected':
    case 'disconnected':
    case 'handshake':
    case 'conflict':
      // A store with a valid token reconnecting in a loop is a peer too: its session lines share the bound.
      peerLog.info(`store:${event.storeId}`, { ...event }, event.type);
      return;
    default:
      log.info(event, event.type);
  }
}
