import { duration } from '../shared/format.js';
import { History } from '../shared/sparkline.js';
import type { Minute, Refusal, SkuLocation, SkuStock, StoreLink } from '../shared/schemas.js';

/** One SKU as the dashboard keeps it: the latest figures and, from the live events, its recent history. */
export interface CatalogEntry {
  readonly sku: string;
  available: number;
  updatedAt: string | null;
  /** Per-store figures, once a read or an event carried them. */
  locations: readonly SkuLocation[] | null;
  readonly history: History;
}

/** The SKUs the dashboard knows: loaded from the catalog walk, kept current by the event stream. */
export class Catalog {
  private readonly entries = new Map<string, CatalogEntry>();
  private sorted: CatalogEntry[] | null = [];

  get size(): number {
    return this.entries.size;
  }

  get(sku: string): CatalogEntry | undefined {
    return this.entries.get(sku);
  }

  /** A row of the catalog walk. */
  listed(item: { sku: string; available: number; updatedAt: string | null }, now: number): CatalogEntry {
    const entry = this.entry(item.sku);
    entry.available = item.available;
    entry.updatedAt = item.updatedAt;
    entry.history.push(now, item.available);
    return entry;
  }

  /** A full SKU read: from GET /v1/skus/:sku or a `stock` event. */
  stock(stock: SkuStock, now: number): CatalogEntry {
    const entry = this.entry(stock.sku);
    entry.available = stock.available;
    entry.updatedAt = stock.updatedAt;
    entry.locations = stock.locations;
    entry.history.push(now, stock.available);
    return entry;
  }

  /** SKUs whose id contains `query` (any case), in SKU order. */
  search(query: string): CatalogEntry[] {
    this.sorted ??= [...this.entries.values()].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
    const needle = query.trim().toUpperCase();
    return needle === '' ? this.sorted : this.sorted.filter((e) => e.sku.toUpperCase().includes(needle));
  }

  all(): IterableIterator<CatalogEntry> {
    return this.entries.values();
  }

  clear(): void {
    this.entries.clear();
    this.sorted = null;
  }

  private entry(sku: string): CatalogEntry {
    let entry = this.entries.get(sku);
    if (entry === undefined) {
      entry = { sku, available: 0, updatedAt: null, locations: null, history: new History() };
      this.entries.set(sku, entry);
      this.sorted = null;
    }
    return entry;
  }
}

/** A page of `items` (0-based), and how many pages there are. */
export function paginate<T>(
  items: readonly T[],
  page: number,
  size: number,
): { items: T[]; page: number; pages: number } {
  const pages = Math.max(1, Math.ceil(items.length / size));
  const clamped = Math.min(Math.max(0, page), pages - 1);
  return { items: items.slice(clamped * size, (clamped + 1) * size), page: clamped, pages };
}

export interface Alert {
  /** Stable per condition, so an alert that stays is updated in place, not redrawn. */
  readonly key: string;
  readonly level: 'warning' | 'critical';
  readonly text: string;
  /** A SKU to open, when the alert is about one. */
  readonly sku?: string;
}

/** Why a refusal happened, by the cause a store reported (unknown causes get no sentence). */
const REFUSAL_WHY: Readonly<Record<string, string>> = {
  location_empty: 'the units were at another location (an empty shelf, not an escrow failure)',
  hub_unreachable: "the units sat in the store's online escrow with the hub out of reach",
  online_escrow: "the location's rights were kept for online orders",
  topup_timeout: "the hub's top-up did not arrive in time",
};

/** Refusals in `minutes`, by cause; causes an older hub does not send count as 0. */
export function refusalCounts(minutes: readonly Minute[]): {
  readonly locationEmpty: number;
  readonly hubUnreachable: number;
  readonly escrowHeld: number;
  readonly topUpTimeout: number;
  readonly total: number;
} {
  let locationEmpty = 0;
  let hubUnreachable = 0;
  let escrowHeld = 0;
  let topUpTimeout = 0;
  for (const m of minutes) {
    locationEmpty += m.refused.locationEmpty;
    hubUnreachable += m.refused.hubUnreachable ?? 0;
    escrowHeld += m.refused.escrowHeld;
    topUpTimeout += m.refused.topUpTimeout ?? 0;
  }
  const total = locationEmpty + hubUnreachable + escrowHeld + topUpTimeout;
  return { locationEmpty, hubUnreachable, escrowHeld, topUpTimeout, total };
}

/** "0 sales refused", "3 sales refused (1 out of stock at the store, 2 hub unreachable)": the causes seen, named. */
export function refusalText(minutes: readonly Minute[]): string {
  const counts = refusalCounts(minutes);
  const parts = [
    [counts.locationEmpty, 'out of stock at the store'],
    [counts.hubUnreachable, 'hub unreachable'],
    [counts.escrowHeld, 'held for online'],
    [counts.topUpTimeout, 'top-up timed out'],
  ] as const;
  const named = parts.filter(([n]) => n > 0).map(([n, label]) => `${n} ${label}`);
  const head = `${counts.total} sale${counts.total === 1 ? '' : 's'} refused`;
  return named.length === 0 ? head : `${head} (${named.join(', ')})`;
}

export interface AlertInput {
  readonly stores: readonly StoreLink[];
  readonly refusals: readonly Refusal[];
  readonly catalog: Iterable<Pick<CatalogEntry, 'sku' | 'locations'>>;
  readonly now: number;
  readonly offlineAfterMs: number;
}

/** What needs an operator's attention, most severe first. */
export function computeAlerts(input: AlertInput): Alert[] {
  const alerts: Alert[] = [];

  // Stores offline beyond the threshold (a cut link is a tester's doing: said so).
  for (const store of input.stores) {
    if (store.connected) continue;
    const offlineFor = input.now - Date.parse(store.lastSeen);
    if (store.cut === true) {
      alerts.push({
        key: `cut:${store.storeId}`,
        level: 'warning',
        text: `${store.storeId}: link cut by an operator ${duration(offlineFor)} ago; selling from local quota`,
      });
    } else if (offlineFor >= input.offlineAfterMs) {
      alerts.push({
        key: `offline:${store.storeId}`,
        level: 'critical',
        text: `${store.storeId}: offline for ${duration(offlineFor)}`,
      });
    }
  }

  // Sales refused while the chain had the units, by SKU and cause: an empty shelf
  // (units at another location) is not an escrow failure, and says so.
  const groups = new Map<string, Refusal[]>();
  for (const refusal of input.refusals) {
    const key = `refused:${refusal.sku}${refusal.cause === undefined ? '' : `:${refusal.cause}`}`;
    groups.set(key, [...(groups.get(key) ?? []), refusal]);
  }
  for (const [key, refusals] of groups) {
    const latest = refusals[0] as Refusal;
    const stores = [...new Set(refusals.map((r) => r.storeId))].join(', ');
    const why = latest.cause === undefined ? undefined : REFUSAL_WHY[latest.cause];
    alerts.push({
      key,
      level: 'warning',
      sku: latest.sku,
      text: `${latest.sku}: ${refusals.length} sale${refusals.length === 1 ? '' : 's'} refused at ${stores} while the chain had ${latest.chainAvailable} available${why === undefined ? '' : `: ${why}`}`,
    });
  }

  // --- Deficits (manager overrides) -------------------------------------------
  // A hub with manager overrides reports, per store in the SKU read, `deficit`:
  // units sold beyond the store's rights and not yet covered. Reads without the
  // field (hubs before that change) raise nothing here.
  for (const entry of input.catalog) {
    for (const location of entry.locations ?? []) {
      const deficit = location.deficit;
      if (deficit === undefined || deficit <= 0) continue;
      alerts.push({
        key: `deficit:${entry.sku}:${location.location}`,
        level: 'critical',
        sku: entry.sku,
        text: `${entry.sku}: ${location.location} has a deficit of ${deficit} (manager override beyond its rights)${
          (location.reservationsAtRisk ?? 0) > 0 ? `; ${location.reservationsAtRisk} reserved units at risk` : ''
        }`,
      });
    }
  }
  // --- end of deficits ----------------------------------------------------------

  return alerts.sort((a, b) => (a.level === b.level ? 0 : a.level === 'critical' ? -1 : 1));
}
