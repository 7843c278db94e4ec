import type { Logger, Metrics } from '@shelfsync/edge';
import type { PointOfSaleObserver } from '@shelfsync/point-of-sale';
import type { StoreStorage, StoreSync } from '@shelfsync/sync';

/**
 * The store's point-of-sale metrics and logs: what the POS service reports,
 * turned into Prometheus series and log lines.
 */
export function pointOfSaleMetrics(
  metrics: Metrics,
  log: Logger,
  sources: { storage: StoreStorage; sync: StoreSync },
): PointOfSaleObserver {
  const sales = metrics.counter(
    'shelfsync_sales_total',
    'Sales and ship-outs by outcome: local (own rights), topped_up (after a hub grant), override (manager override beyond rights), refused_offline, refused_connected, refused_override_cap, invalid',
    ['outcome'],
  );
  const refusedWithChainStock = metrics.counter(
    'shelfsync_sales_refused_with_chain_stock_total',
    'Sales refused while the chain, as this store last knew it, had the units: the price of bounded reservation',
  );
  const overrideUnits = metrics.counter(
    'shelfsync_override_units_total',
    'Units sold under the manager override beyond the POS rights (each is owed until the hub settles it)',
  );
  const refusedSales = metrics.counter(
    'shelfsync_sales_refused_total',
    "Sales refused for want of rights, by cause: location_empty (the shelf lacks the units), hub_unreachable (units in the online escrow, hub out of reach), online_escrow (the location's rights at the hub are promised online), topup_timeout",
    ['cause'],
  );
  const topUpSeconds = metrics.histogram('shelfsync_topup_duration_seconds', 'Time a sale waited on a hub top-up');
  metrics.reading('shelfsync_pending_sync_skus', 'SKUs with local changes the hub has not acknowledged', () =>
    sources.storage.dirtyCount(),
  );
  metrics.reading('shelfsync_hub_connected', '1 while the link to the hub is live', () =>
    sources.sync.status().connected ? 1 : 0,
  );
  return {
    sale: (outcome) => sales.inc({ outcome }),
    refused: (cause) => refusedSales.inc({ cause }),
    refusedWithChainStock: () => refusedWithChainStock.inc(),
    overridden: (sale) => {
      overrideUnits.inc(sale.overridden);
      log.warn(sale, 'sale under manager override');
    },
    waitedForTopUp: (ms) => topUpSeconds.observe(ms / 1000),
    released: (sku, released, target) => log.info({ sku, released, target }, 'rights released to the online escrow'),
  };
}
