import { seededRandom } from '@shelfsync/protocol';

export interface CompareOptions {
  readonly seed: number;
  readonly stores: number;
  readonly skus: number;
  readonly hours: number;
  /** In-store sale attempts per store per hour. */
  readonly salesPerStoreHour: number;
  /** Online orders (pickup) per store per hour. */
  readonly ordersPerStoreHour: number;
  readonly initialUnits: number;
}

export const defaultCompareOptions: CompareOptions = {
  seed: 11,
  stores: 10,
  skus: 100,
  hours: 10,
  salesPerStoreHour: 120,
  ordersPerStoreHour: 24,
  initialUnits: 12,
};

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

export type Kind = 'sale' | 'order' | 'restock' | 'read';
export interface WorkEvent {
  readonly at: number;
  readonly kind: Kind;
  readonly store: number;
  readonly sku: number;
  readonly quantity: number;
}
export interface Outage {
  /** A store index, or -1 for the centre. */
  readonly store: number;
  readonly from: number;
  readonly to: number;
}

/** The seeded day: Poisson-ish arrivals on a virtual clock, restocks every two hours, storefront reads every minute. */
export function workload(o: CompareOptions): { events: WorkEvent[]; outages: Outage[] } {
  const random = seededRandom(o.seed);
  const end = o.hours * HOUR;
  const events: WorkEvent[] = [];
  // Popular SKUs sell more: a skew that makes some shelves run short.
  const skuPick = (): number => Math.min(o.skus - 1, Math.floor(o.skus * random() ** 2));
  const arrivals = (perHour: number, kind: Kind): void => {
    for (let store = 0; store < o.stores; store++) {
      let t = 0;
      for (;;) {
        t += (-Math.log(1 - random()) / perHour) * HOUR;
        if (t >= end) break;
        events.push({ at: Math.round(t), kind, store, sku: skuPick(), quantity: 1 + (random() < 0.2 ? 1 : 0) });
      }
    }
  };
  arrivals(o.salesPerStoreHour, 'sale');
  arrivals(o.ordersPerStoreHour, 'order');
  for (let t = 2 * HOUR; t < end; t += 2 * HOUR) {
    for (let store = 0; store < o.stores; store++) {
      for (let sku = 0; sku < o.skus; sku++) events.push({ at: t, kind: 'restock', store, sku, quantity: 0 });
    }
  }
  for (let t = MINUTE; t < end; t += MINUTE) {
    events.push({ at: t, kind: 'read', store: Math.floor(random() * o.stores), sku: skuPick(), quantity: 0 });
  }
  // Every store loses its link once for 30-90 minutes; the centre is down once for 20 minutes.
  const outages: Outage[] = [];
  for (let store = 0; store < o.stores; store++) {
    const from = Math.round((0.1 + random() * 0.7) * end);
    outages.push({ store, from, to: from + Math.round((30 + random() * 60) * MINUTE) });
  }
  const hubFrom = Math.round((0.3 + random() * 0.4) * end);
  outages.push({ store: -1, from: hubFrom, to: hubFrom + 20 * MINUTE });
  events.sort((a, b) => a.at - b.at || a.kind.localeCompare(b.kind));
  return { events, outages };
}
