import type { Sku } from '@shelfsync/protocol';

/** Locations tracked per SKU; older ones are folded into one change number. */
const TRACKED_LOCATIONS = 8;

/** One SKU's changes by whose share they touched. */
interface SkuShareChanges {
  /** The latest change that touched every holder's share (`meta`, or a version 1 `hub` write). */
  all: number;
  /** The latest change that touched each location's share, for the locations touched last. */
  readonly byLocation: Map<string, number>;
  /** The latest change of the locations no longer tracked. */
  folded: number;
}

/**
 * Whose share each SKU's changes touched, since the hub started (ADR 0022), so a
 * store that holds its share is welcomed with only the SKUs whose share changed
 * after its cursor, not every SKU that changed: another store's sales are not
 * its to fetch, as they are not its to be relayed.
 *
 * In memory and bounded: per SKU the latest change for each of the last
 * TRACKED_LOCATIONS locations, the rest folded into one number, which can only
 * list more (one needless exchange each), never fewer. A cursor from before the
 * hub started is answered with every SKU the log lists. A SKU the log lists but
 * no relay has noted yet is left out: its change is relayed after the welcome,
 * to a session that is live by then.
 */
export class ShareChanges {
  private readonly skus = new Map<Sku, SkuShareChanges>();

  /** `since`: the change log's head when the hub started; every later change is noted here as it is relayed. */
  constructor(private readonly since: number) {}

  /** Change `change` of `sku` touched the shares of `locations`, or of every holder. */
  note(sku: Sku, change: number, locations: ReadonlySet<string>, everyHolder: boolean): void {
    let entry = this.skus.get(sku);
    if (entry === undefined) this.skus.set(sku, (entry = { all: 0, byLocation: new Map(), folded: 0 }));
    if (everyHolder) {
      entry.all = Math.max(entry.all, change);
      return;
    }
    for (const location of locations) {
      // Deleted first, so the map keeps the locations in the order they were last touched.
      entry.byLocation.delete(location);
      entry.byLocation.set(location, change);
    }
    for (const [location, latest] of entry.byLocation) {
      if (entry.byLocation.size <= TRACKED_LOCATIONS) break;
      entry.byLocation.delete(location);
      entry.folded = Math.max(entry.folded, latest);
    }
  }

  /** Of `skus`, changed after `cursor`, the ones whose changes after it touched `location`'s share. */
  changedFor(location: string, cursor: number, skus: readonly Sku[]): Sku[] {
    if (cursor < this.since) return [...skus];
    return skus.filter((sku) => {
      const entry = this.skus.get(sku);
      if (entry === undefined) return false;
      return Math.max(entry.all, entry.byLocation.get(location) ?? entry.folded) > cursor;
    });
  }
}
