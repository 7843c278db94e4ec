import { computeStock, deficitAllowance, readAccount, type OperationOutcome } from '@shelfsync/core';
import { allocate, topUpForSale, type AllocatorConfig } from '@shelfsync/escrow';
import { onlineAccount, storeAccount, storeWriter, writerKey, type Sku, type StoreId } from '@shelfsync/protocol';
import type * as Y from 'yjs';
import { DemandBook, demandKey } from './demand-book.js';
import type { HubWriter } from './hub-engine.js';
import { hubMark, shelfOf } from './location-shelf.js';
import { OrderReleases } from './order-releases.js';
import type { HubDocuments, HubSync, TopUpAnswer } from './hub-sync.js';

/** Something the allocator did, for logs and metrics. */
export type AllocatorEvent =
  | {
      readonly type: 'grant';
      readonly storeId: StoreId;
      readonly sku: Sku;
      readonly quantity: number;
      readonly reason: 'rebalance' | 'topup';
    }
  | { readonly type: 'release-asked'; readonly storeId: StoreId; readonly sku: Sku; readonly target: number }
  | {
      /** The hub settled (part of) a store's manager-override deficit. */
      readonly type: 'deficit';
      readonly storeId: StoreId;
      readonly sku: Sku;
      /** Rights granted from the store's online escrow to cover it. */
      readonly granted: number;
      /** Deficit units settled (granted, or repaid by the store's own receipts). */
      readonly settled: number;
      /** Units still owed: no online rights were left to cover them. */
      readonly outstanding: number;
      /** Outstanding reservations at the store the deficit may have sold from. */
      readonly reservationsAtRisk: number;
    }
  | {
      readonly type: 'topup';
      readonly storeId: StoreId;
      readonly sku: Sku;
      readonly requested: number;
      readonly granted: number;
      readonly ms: number;
    };

/** A release is asked again for the same target only after this long (the store may be offline). */
const RELEASE_REPEAT_MS = 30_000;

/**
 * The hub's side of the escrow: follows each store's sales velocity per SKU
 * from the committed totals in the updates it accepts, grants rights from the
 * store's online escrow (online:X > store:X, written by the hub, the only writer
 * of online accounts) and asks stores to release surplus. The policy itself is
 * `@shelfsync/escrow`; this is its wiring: it reads the documents, writes them
 * through the hub's engine (`HubWriter`, in the grant, top-up and settlement
 * lanes) and sends its asks to the stores' sessions.
 */
export class HubAllocator {
  private readonly demand: DemandBook;
  /** Where the next sweep starts, as a position in the demand book. */
  private sweepFrom = 0;
  /** Per (SKU, store), deficits the hub could not settle yet, and the reservations they put at risk. */
  private readonly owed = new Map<string, { units: number; reservationsAtRisk: number }>();
  /** Online orders waiting on a release: the escrow at their location is not granted back meanwhile. */
  private readonly orders: OrderReleases;

  /**
   * `documents` to read (and to hear commits on), `writer` for every write (the
   * hub's engine), `stores` to ask a connected store to release.
   */
  constructor(
    private readonly documents: Pick<HubDocuments, 'open' | 'onCommit' | 'writerClients' | 'ownsSku'>,
    private readonly writer: HubWriter,
    private readonly stores: Pick<HubSync, 'send'>,
    private readonly config: AllocatorConfig,
    private readonly now: () => number = Date.now,
    private readonly onEvent: (event: AllocatorEvent) => void = () => {},
  ) {
    this.demand = new DemandBook(config.halfLifeMs, now, config.onlinePooling);
    this.orders = new OrderReleases(documents, stores, config.releaseWaitMs, (event) => this.onEvent(event));
  }

  /** The SKU's current document, as the hub holds it. */
  document(sku: Sku): Promise<Y.Doc> {
    return this.documents.open(sku);
  }

  /** A store's update of `sku` was committed: learn its sales, then rebalance. */
  async accepted(storeId: StoreId, sku: Sku): Promise<void> {
    await this.learnSales(storeId, sku);
    await this.rebalance(storeId, sku);
  }

  /**
   * Another hub node committed a store's update of `sku`: every node learns the
   * store's sales, so whichever node owns the SKU after a failover already knows
   * its velocities. The owner rebalances; the store's own node has asked for any
   * release already, so no other node asks again.
   */
  async heard(storeId: StoreId, sku: Sku): Promise<void> {
    await this.learnSales(storeId, sku);
    if (this.documents.ownsSku?.(sku) === true) await this.rebalance(storeId, sku);
  }

  /** The store's committed total of `sku`, as the demand it follows. */
  private async learnSales(storeId: StoreId, sku: Sku): Promise<void> {
    const doc = await this.documents.open(sku);
    this.demand.committed(sku, storeId, readAccount(doc, writerKey(storeWriter(storeId)), storeAccount(storeId)).n);
  }

  /**
   * A store's sale of `quantity` exceeds its rights: grant what it lacks plus a
   * refill to its target, if its online escrow holds that much. Resolves once
   * the grant is durable and relayed (before the answer goes out).
   */
  async topUp(storeId: StoreId, sku: Sku, quantity: number): Promise<TopUpAnswer> {
    const started = this.now();
    // An owed deficit is settled first, so the grant below is judged on what the store really holds.
    await this.settleDeficit(storeId, sku);
    const from = onlineAccount(storeId);
    const to = storeAccount(storeId);
    let answer: TopUpAnswer = { granted: 0, available: 0, rights: 0 };
    await this.writer.writeAsHub(sku, 'topup', (doc) => {
      const shelf = shelfOf(doc, storeId);
      // A deficit no escrow covers leaves the location short: nothing is available, not less than nothing.
      const available = Math.max(0, shelf.posRights + shelf.onlineRights);
      const rights = Math.max(0, shelf.posRights);
      answer = { granted: 0, available, rights };
      const decision = topUpForSale(shelf, quantity, this.demand.rates(sku, storeId), this.config, sku);
      if (decision.type !== 'grant' || decision.quantity === 0) return null;
      answer = { granted: decision.quantity, available, rights: rights + decision.quantity };
      return { type: 'transferRights', from, to, quantity: decision.quantity };
    });
    this.onEvent({
      type: 'topup',
      storeId,
      sku,
      requested: quantity,
      granted: answer.granted,
      ms: this.now() - started,
    });
    if (answer.granted > 0) this.onEvent({ type: 'grant', storeId, sku, quantity: answer.granted, reason: 'topup' });
    return answer;
  }

  /**
   * Rebalances the (SKU, store) pairs with known demand, at most `limit` per call,
   * continuing where the last call stopped (each opens its document: a sweep of
   * the whole catalog at once would undo the hub's eviction). Forgets demand that
   * has died down and needs nothing.
   */
  async sweep(limit = 1_000): Promise<void> {
    const { pairs, next } = this.demand.round(this.sweepFrom, limit);
    this.sweepFrom = next;
    for (const [sku, storeId] of pairs) {
      const moved = await this.rebalance(storeId, sku);
      const rates = this.demand.rates(sku, storeId);
      // A pair still owing a deficit stays followed: online rights that come back settle it.
      if (
        !moved &&
        !this.owed.has(demandKey(sku, storeId)) &&
        (rates.pos + rates.online) * this.config.horizonMs < 0.5
      ) {
        this.demand.forget(sku, storeId);
      }
    }
  }

  /**
   * An online order of `quantity` units was served from the store's location:
   * its online demand grew, so the location is rebalanced (its escrow may now
   * want more of the shelf).
   */
  async ordered(storeId: StoreId, sku: Sku, quantity: number): Promise<void> {
    this.demand.ordered(sku, storeId, quantity);
    await this.rebalance(storeId, sku);
  }

  /**
   * An online order of `quantity` units finds no location's online escrow
   * enough: asks a connected store whose shelf could cover it (the given one, or
   * the one with the most POS rights) to release what the order lacks, waits up
   * to `releaseWaitMs` for its online rights to cover the order, then runs
   * `place` with that store. Until `place` is done, no rebalance grants that
   * location's escrow back to its till, so the released units wait for the
   * order. Null when no store could, none was connected, or the release did not
   * arrive in time.
   */
  releaseForOrder<T>(
    sku: Sku,
    quantity: number,
    storeId: StoreId | undefined,
    place: (storeId: StoreId) => Promise<T>,
  ): Promise<T | null> {
    return this.orders.release(sku, quantity, storeId, place);
  }

  /** (SKU, store) pairs whose demand the allocator follows. */
  get tracked(): number {
    return this.demand.size;
  }

  /** Deficits the hub could not settle yet, summed over every (SKU, store) it has seen one at. */
  deficits(): { units: number; reservationsAtRisk: number; skus: number } {
    let units = 0;
    let reservationsAtRisk = 0;
    for (const owed of this.owed.values()) {
      units += owed.units;
      reservationsAtRisk += owed.reservationsAtRisk;
    }
    return { units, reservationsAtRisk, skus: this.owed.size };
  }

  /**
   * Settles a store's manager-override deficit: covers what the store's online
   * escrow can (online:X > store:X, recorded in `c`), and records units the
   * store's own receipts have repaid. What stays owed is reported, with the
   * reservations at that store it may have sold from: flagged, never dropped.
   */
  async settleDeficit(storeId: StoreId, sku: Sku): Promise<boolean> {
    const key = demandKey(sku, storeId);
    if (deficitAllowance(await this.documents.open(sku), storeAccount(storeId)) <= 0) {
      this.owed.delete(key);
      return false;
    }
    let covered: OperationOutcome | null = null;
    const result = await this.writer.writeAsHub(sku, 'settlement', (doc) =>
      deficitAllowance(doc, storeAccount(storeId)) > 0
        ? { type: 'coverDeficit', account: onlineAccount(storeId) }
        : null,
    );
    if (result?.ok === true) covered = result.value;
    const location = computeStock(await this.documents.open(sku)).locations[storeId];
    const outstanding = location?.deficit ?? 0;
    const reservationsAtRisk = location?.reservationsAtRisk ?? 0;
    const before = this.owed.get(key);
    if (outstanding > 0) this.owed.set(key, { units: outstanding, reservationsAtRisk });
    else this.owed.delete(key);
    const settled = covered?.settled ?? 0;
    // Reported when something was settled or what is owed changed, not on every update while it cannot be.
    if (covered === null || (settled === 0 && before?.units === outstanding)) return false;
    this.onEvent({
      type: 'deficit',
      storeId,
      sku,
      granted: covered.delta === 0 ? 0 : -covered.delta,
      settled,
      outstanding,
      reservationsAtRisk,
    });
    return settled > 0;
  }

  /** Grants or asks for a release as the policy says; true when something moved or was asked. */
  private async rebalance(storeId: StoreId, sku: Sku): Promise<boolean> {
    // Another hub node writes the SKU: this one asks only what a store connected here may do itself.
    if (this.documents.ownsSku?.(sku) === false) return this.askRelease(storeId, sku);
    // A deficit is settled first: the quota is judged on what the store holds after it.
    const settled = await this.settleDeficit(storeId, sku);
    // Most accepted updates leave the store inside its band: decide that on the
    // current document and skip the hub's write queue. A move is decided again in
    // write order, on the document as the previous hub write left it.
    if (
      allocate(shelfOf(await this.documents.open(sku), storeId), this.demand.rates(sku, storeId), this.config, sku)
        .type === 'hold'
    ) {
      return settled;
    }
    const from = onlineAccount(storeId);
    const to = storeAccount(storeId);
    let granted = 0;
    let release: number | null = null;
    await this.writer.writeAsHub(sku, 'grant', (doc) => {
      const decision = allocate(shelfOf(doc, storeId), this.demand.rates(sku, storeId), this.config, sku);
      // Units released for a waiting order stay in the escrow until it is placed (decided in write order).
      if (decision.type === 'grant' && this.orders.waiting(sku, storeId)) return null;
      if (decision.type === 'grant') {
        granted = decision.quantity;
        return { type: 'transferRights', from, to, quantity: decision.quantity };
      }
      if (decision.type === 'release') release = shelfOf(doc, storeId).posRights - decision.quantity;
      return null;
    });
    if (granted > 0) {
      this.onEvent({ type: 'grant', storeId, sku, quantity: granted, reason: 'rebalance' });
      return true;
    }
    return release !== null && (await this.sendRelease(storeId, sku, release));
  }

  /**
   * On a cluster node that does not write the SKU: the escrow wants more of a
   * connected store's shelf, so the store is asked to release it (its own write,
   * which this node validates and commits). Grants, settlements and waits for
   * orders are the owner's: it hears the store's update from the change log.
   */
  private async askRelease(storeId: StoreId, sku: Sku): Promise<boolean> {
    const shelf = shelfOf(await this.documents.open(sku), storeId);
    const decision = allocate(shelf, this.demand.rates(sku, storeId), this.config, sku);
    if (decision.type !== 'release') return false;
    return this.sendRelease(storeId, sku, shelf.posRights - decision.quantity);
  }

  /** Asks the store to bring its till's rights down to `target`, unless the same was asked lately. */
  private async sendRelease(storeId: StoreId, sku: Sku, target: number): Promise<boolean> {
    const demand = this.demand.get(sku, storeId);
    const now = this.now();
    const asked = demand?.releaseAsked;
    if (asked != null && asked.target === target && now - asked.at < RELEASE_REPEAT_MS) return false;
    const mark = hubMark(await this.documents.open(sku), this.documents.writerClients, storeId);
    if (!this.stores.send(storeId, { type: 'release', sku, target, ...mark })) return false;
    if (demand !== undefined) demand.releaseAsked = { target, at: now };
    this.onEvent({ type: 'release-asked', storeId, sku, target });
    return true;
  }
}
