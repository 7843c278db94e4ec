import { computeStock, ledgerSummary } from '@shelfsync/core';
import {
  ErrorCode,
  ShelfsyncFailure,
  shelfsyncError,
  type Sku,
  type SkuLedger,
  type SkuListSchema,
  type StoreAvailabilitySchema,
  type StoreId,
} from '@shelfsync/protocol';
import type { HubChange } from '@shelfsync/sync';
import type { z } from 'zod';
import { CatalogIndex } from './catalog-index.js';
import { decodeCursor, encodeCursor } from './catalog-cursor.js';
import { StockTags, holdsVersion } from './etags.js';
import type { StorefrontStorage } from './ports.js';
import type { StockBodies } from './stock-bodies.js';

/** SKUs a listing request examines at most to fill a filtered page; the cursor continues from there. */
export const MAX_SCAN = 2_000;

export type StoreAvailability = z.infer<typeof StoreAvailabilitySchema>;
export type CatalogPage = z.infer<typeof SkuListSchema>;

/**
 * A read with a version: the client's copy is current (`notModified`, nothing
 * was read), or the body. Either way, `etag` names the version.
 */
export type VersionedRead<T> =
  | { readonly etag: string; readonly notModified: true }
  | { readonly etag: string; readonly notModified: false; readonly body: T };

/** One page of the catalog walk. */
export interface CatalogQuery {
  /** A `nextCursor` this hub gave out: the page starts after it. */
  readonly cursor?: string | undefined;
  readonly limit: number;
  /** Only SKUs this store holds, with its figures. */
  readonly store?: StoreId | undefined;
  /** Only SKUs with (or without) stock: at the store when one is named, else chain-wide. */
  readonly inStock?: boolean | undefined;
}

export interface StorefrontReadsOptions {
  /** Names this process in every ETag: a fresh random value each start (see StockTags). */
  readonly bootTag: string;
}

/**
 * The storefront's reads of merged stock: a SKU's stock (its serialized body
 * cached per change number), its availability at one store, a stable cursor
 * walk of the catalog with filters, and the ledger summary. Versioned reads
 * carry strong ETags from the hub's change numbers; given the client's
 * If-None-Match, they skip the document when the client is current. A SKU the
 * hub never recorded throws NOT_FOUND (a ShelfsyncFailure).
 */
export class StorefrontReads {
  private readonly catalog: CatalogIndex;
  private readonly tags: StockTags;

  constructor(
    private readonly storage: StorefrontStorage,
    private readonly bodies: StockBodies,
    options: StorefrontReadsOptions,
  ) {
    this.catalog = new CatalogIndex(storage);
    this.tags = new StockTags(storage.epoch, options.bootTag);
  }

  /** GET /v1/skus/:sku: the stock body as JSON. */
  async stock(sku: Sku, ifNoneMatch = ''): Promise<VersionedRead<string>> {
    const change = this.known(sku);
    const etag = this.tags.of(change.seq);
    if (holdsVersion(ifNoneMatch, etag)) return { etag, notModified: true };
    return { etag, notModified: false, body: await this.bodies.json(sku, change) };
  }

  /** GET /v1/stores/:storeId/skus/:sku: zeros at a store that never held the SKU. */
  async storeAvailability(storeId: StoreId, sku: Sku, ifNoneMatch = ''): Promise<VersionedRead<StoreAvailability>> {
    const change = this.known(sku);
    const etag = this.tags.of(change.seq, `-${storeId}`);
    if (holdsVersion(ifNoneMatch, etag)) return { etag, notModified: true };
    const view = computeStock(await this.storage.open(sku));
    const here = view.locations[storeId];
    const body: StoreAvailability = {
      sku,
      storeId,
      onShelf: here?.onShelf ?? 0,
      reservable: here?.reservable ?? 0,
      posRights: here?.posRights ?? 0,
      reserved: here?.outstandingReservations ?? 0,
      deficit: here?.deficit ?? 0,
      reservationsAtRisk: here?.reservationsAtRisk ?? 0,
      available: view.value,
      updatedAt: new Date(change.at).toISOString(),
      change: change.seq,
    };
    return { etag, notModified: false, body };
  }

  /**
   * GET /v1/skus: up to `limit` SKUs in sorted order after the cursor that pass
   * the filters, examining at most MAX_SCAN; `nextCursor` is null once the walk
   * has passed the last SKU. A SKU added during a walk is listed if it sorts
   * after the cursor. Throws VALIDATION_FAILED for a cursor this hub did not give out.
   */
  async list(query: CatalogQuery): Promise<CatalogPage> {
    const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
    const items: CatalogPage['items'] = [];
    let scanned = 0;
    let last: Sku | null = after;
    let exhausted = false;
    while (items.length < query.limit && scanned < MAX_SCAN) {
      const batch = this.catalog.skusAfter(last, Math.min(query.limit - items.length + 20, MAX_SCAN - scanned));
      if (batch.length === 0) {
        exhausted = true;
        break;
      }
      for (const sku of batch) {
        scanned++;
        last = sku;
        const view = computeStock(await this.storage.open(sku));
        const here = query.store === undefined ? undefined : view.locations[query.store];
        if (query.store !== undefined && here === undefined) continue;
        const stock = here === undefined ? view.value : here.onShelf;
        if (query.inStock === true && stock <= 0) continue;
        if (query.inStock === false && stock > 0) continue;
        const change = this.storage.changeOf(sku);
        items.push({
          sku,
          available: view.value,
          ...(here === undefined ? {} : { store: { onShelf: here.onShelf, reservable: here.reservable } }),
          updatedAt: change === undefined ? null : new Date(change.at).toISOString(),
        });
        if (items.length === query.limit) break;
      }
    }
    if (!exhausted && last !== null && this.catalog.skusAfter(last, 1).length === 0) exhausted = true;
    return { items, nextCursor: exhausted || last === null ? null : encodeCursor(last) };
  }

  /** GET /v1/skus/:sku/ledger: the hub's ledger summary of the SKU, to compare replicas by. */
  async ledger(sku: Sku): Promise<SkuLedger> {
    this.known(sku);
    return { sku, ...ledgerSummary(await this.storage.open(sku)) };
  }

  /** The SKU's latest change; NOT_FOUND for one never committed (opening it would create it). */
  private known(sku: Sku): HubChange {
    const change = this.storage.changeOf(sku);
    if (change === undefined) {
      throw new ShelfsyncFailure(shelfsyncError(ErrorCode.NotFound, `no stock recorded for ${sku}`));
    }
    return change;
  }
}
