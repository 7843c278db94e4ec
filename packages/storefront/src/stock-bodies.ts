import { computeStock, type StockView } from '@shelfsync/core';
import { CENTRAL_LOCATION, type Sku, type SkuStock } from '@shelfsync/protocol';
import type { HubChange, HubDocuments } from '@shelfsync/sync';

/** Read bodies kept serialized (the hot part of the catalog). */
export const BODY_CACHE_SIZE = 10_000;

/** One SKU as the storefront sees it: chain-wide, per store, and central. */
export function stockBody(sku: Sku, view: StockView, change: HubChange | undefined): SkuStock {
  return {
    sku,
    /** Units no one has committed, chain-wide (reserved units are committed). */
    available: view.value,
    /** Units the online channel can promise from the central warehouse. */
    central: { available: view.accounts[`online:${CENTRAL_LOCATION}`]?.rights ?? 0 },
    locations: Object.values(view.locations)
      .filter((l) => l.location !== CENTRAL_LOCATION)
      .map((l) => ({
        location: l.location,
        onShelf: l.onShelf,
        posRights: l.posRights,
        onlineRights: l.onlineRights,
        /** What an online customer can reserve for pickup there now. */
        reservable: l.reservable,
        reserved: l.outstandingReservations,
        deficit: l.deficit,
        reservationsAtRisk: l.reservationsAtRisk,
      })),
    updatedAt: change === undefined ? null : new Date(change.at).toISOString(),
    change: change?.seq ?? 0,
  };
}

/**
 * Serialized stock bodies by SKU, valid while the SKU's change number holds: a
 * hot SKU read thousands of times between two sales, or sent to every listening
 * event stream, is derived and encoded once. Shared by the reads and the change
 * feed. Map order is least recently used first; bounded.
 */
export class StockBodies {
  private readonly bodies = new Map<Sku, { seq: number; json: string }>();

  constructor(
    private readonly documents: Pick<HubDocuments, 'open'>,
    private readonly size: number = BODY_CACHE_SIZE,
  ) {}

  /** The SKU's stock body as JSON, labelled with `change` (its latest change when read). */
  async json(sku: Sku, change: HubChange): Promise<string> {
    const cached = this.bodies.get(sku);
    if (cached !== undefined) this.bodies.delete(sku);
    const json =
      cached?.seq === change.seq
        ? cached.json
        : JSON.stringify(stockBody(sku, computeStock(await this.documents.open(sku)), change));
    this.bodies.set(sku, { seq: change.seq, json });
    if (this.bodies.size > this.size) {
      const oldest = this.bodies.keys().next().value;
      if (oldest !== undefined) this.bodies.delete(oldest);
    }
    return json;
  }
}
