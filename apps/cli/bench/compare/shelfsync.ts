import {
  applyOperation,
  applyValidatedUpdate,
  computeStock,
  createSkuDoc,
  rightsOf,
  type Operation,
} from '@shelfsync/core';
import {
  AllocatorConfigSchema,
  NO_VELOCITY,
  allocate,
  releaseForOrder,
  recordSale,
  topUpForSale,
  velocityAt,
  type ChannelDemand,
  type Velocity,
} from '@shelfsync/escrow';
import { HUB_WRITER, StoreIdSchema, onlineAccount, storeAccount, storeWriter, type StoreId } from '@shelfsync/protocol';
import * as Y from 'yjs';

import type { Shelves } from './shelves.js';
import { Unsynced, awaitingPick, timed, type ChainSystem, type Network } from './system.js';
import { HOUR, MINUTE, type CompareOptions } from './workload.js';

/** 4. shelfsync: real documents, real operations, the hub's real validation, the real escrow policy. */
export class Shelfsync implements ChainSystem {
  readonly name = 'shelfsync';
  bytes = 0;
  hubCpuNs = 0n;
  private readonly ids: StoreId[];
  private readonly hubDocs: Y.Doc[];
  private readonly storeDocs: Y.Doc[][];
  private readonly velocity = new Map<number, Velocity>();
  private readonly onlineVelocity = new Map<number, Velocity>();
  private readonly config = AllocatorConfigSchema.parse({ horizonMs: 2 * HOUR, halfLifeMs: HOUR, minQuota: 1 });
  private readonly pendingPicks: { store: number; sku: number; q: number }[] = [];
  private readonly dirty: Set<number>[];
  private readonly wasUp: boolean[];
  private readonly unsynced: Unsynced;
  private nextRebalance = 0;
  /** The virtual time of the call being handled: who is connected for a relay. */
  private now = 0;
  private readonly expected = new Map<number, { added: number; committed: number }>();
  constructor(
    private readonly o: CompareOptions,
    private readonly net: Network,
    private readonly shelves: Shelves,
  ) {
    this.ids = Array.from({ length: o.stores }, (_, i) => StoreIdSchema.parse(`s${i}`));
    // Fixed client ids: the same seed gives the same bytes.
    this.hubDocs = Array.from({ length: o.skus }, () => createSkuDoc({ clientID: 1 }));
    this.storeDocs = this.ids.map((_, i) => Array.from({ length: o.skus }, () => createSkuDoc({ clientID: i + 2 })));
    this.dirty = this.ids.map(() => new Set<number>());
    this.wasUp = this.ids.map(() => true);
    this.unsynced = new Unsynced(o.skus);
    for (let store = 0; store < o.stores; store++) {
      for (let sku = 0; sku < o.skus; sku++) {
        this.storeOp(store, sku, {
          type: 'receive',
          account: storeAccount(this.ids[store] as StoreId),
          quantity: o.initialUnits,
        });
        this.sync(store, sku);
      }
    }
    this.rebalance(0);
    // The setup (every shelf received and split) is not part of the day's traffic.
    this.bytes = 0;
    this.hubCpuNs = 0n;
    this.hubWrites = 0;
  }
  private doc(store: number, sku: number): Y.Doc {
    return (this.storeDocs[store] as Y.Doc[])[sku] as Y.Doc;
  }
  private tally(sku: number, added: number, committed: number): void {
    const e = this.expected.get(sku) ?? { added: 0, committed: 0 };
    e.added += added;
    e.committed += committed;
    this.expected.set(sku, e);
  }
  private storeOp(store: number, sku: number, op: Operation): boolean {
    const result = applyOperation(this.doc(store, sku), storeWriter(this.ids[store] as StoreId), op);
    if (!result.ok) return false;
    this.dirty[store]?.add(sku);
    if (op.type === 'receive') this.tally(sku, op.quantity, 0);
    if (op.type === 'sell') this.tally(sku, 0, op.quantity);
    return true;
  }
  /** Hub writes made (grants, reservations, settlements), for the cost model. */
  hubWrites = 0;
  private hubOp(sku: number, op: Operation): boolean {
    const doc = this.hubDocs[sku] as Y.Doc;
    let update: Uint8Array | null = null;
    const capture = (u: Uint8Array): void => {
      update = u;
    };
    doc.on('update', capture);
    const ok = timed(this, () => applyOperation(doc, HUB_WRITER, op).ok);
    doc.off('update', capture);
    if (update !== null) {
      this.hubWrites++;
      this.relay(sku, update, -1);
    }
    return ok;
  }
  /** The hub sends an update it accepted or made to every other store holding the SKU that is connected now. */
  private relay(sku: number, update: Uint8Array, from: number): void {
    for (let store = 0; store < this.o.stores; store++) {
      if (store === from || !this.net.up(store, this.now)) continue;
      this.bytes += update.byteLength;
      Y.applyUpdate(this.doc(store, sku), update);
    }
  }
  /** One store and the hub exchange what the other lacks for one SKU; the hub validates what the store sends. */
  private sync(store: number, sku: number): void {
    const storeDoc = this.doc(store, sku);
    const hubDoc = this.hubDocs[sku] as Y.Doc;
    const up = Y.encodeStateAsUpdate(storeDoc, Y.encodeStateVector(hubDoc));
    // An update with nothing in it (2 bytes) is never sent.
    if (up.byteLength > 2) {
      this.bytes += up.byteLength;
      const verdict = timed(this, () => applyValidatedUpdate(hubDoc, up, storeWriter(this.ids[store] as StoreId)));
      if (!verdict.ok) throw new Error(`the hub refused an honest update: ${verdict.error.detail}`);
      this.relay(sku, up, store);
    }
    const down = timed(this, () => Y.encodeStateAsUpdate(hubDoc, Y.encodeStateVector(storeDoc)));
    if (down.byteLength > 2) {
      this.bytes += down.byteLength;
      Y.applyUpdate(storeDoc, down);
    }
    this.dirty[store]?.delete(sku);
    this.unsynced.clear(store, sku);
  }
  private shelf(sku: number, store: number): { posRights: number; onlineRights: number } {
    const doc = this.hubDocs[sku] as Y.Doc;
    const id = this.ids[store] as StoreId;
    return { posRights: rightsOf(doc, storeAccount(id)), onlineRights: rightsOf(doc, onlineAccount(id)) };
  }
  private rate(store: number, sku: number, at: number): ChannelDemand {
    const key = store * this.o.skus + sku;
    const of = (v: Velocity | undefined): number => (v === undefined ? 0 : velocityAt(v, at, this.config.halfLifeMs));
    return { pos: of(this.velocity.get(key)), online: of(this.onlineVelocity.get(key)) };
  }
  /** The allocator's round: grants from online escrow, releases the store makes when asked. */
  private rebalance(at: number): void {
    for (let store = 0; store < this.o.stores; store++) {
      if (!this.net.up(store, at)) continue;
      const id = this.ids[store] as StoreId;
      for (let sku = 0; sku < this.o.skus; sku++) {
        const decision = timed(this, () => allocate(this.shelf(sku, store), this.rate(store, sku, at), this.config));
        if (decision.type === 'grant') {
          this.hubOp(sku, {
            type: 'transferRights',
            from: onlineAccount(id),
            to: storeAccount(id),
            quantity: decision.quantity,
          });
          this.sync(store, sku);
        } else if (decision.type === 'release') {
          this.bytes += 24; // the release request frame
          this.storeOp(store, sku, {
            type: 'transferRights',
            from: storeAccount(id),
            to: onlineAccount(id),
            quantity: decision.quantity,
          });
          this.sync(store, sku);
        }
      }
    }
  }
  advance(at: number): void {
    this.now = at;
    for (let store = 0; store < this.o.stores; store++) {
      const up = this.net.up(store, at);
      if (up && this.wasUp[store] === false) {
        // Reconnected: catch up every SKU both ways, as the store's handshake does.
        for (let sku = 0; sku < this.o.skus; sku++) this.sync(store, sku);
        for (const p of this.pendingPicks.filter((x) => x.store === store)) this.pick(p.store, p.sku, p.q);
        this.pendingPicks.splice(0, this.pendingPicks.length, ...this.pendingPicks.filter((x) => x.store !== store));
      }
      this.wasUp[store] = up;
    }
    while (this.nextRebalance <= at) {
      this.rebalance(this.nextRebalance);
      this.nextRebalance += 5 * MINUTE;
    }
  }
  private pick(store: number, sku: number, q: number): void {
    this.shelves.take(store, sku, q);
    this.hubOp(sku, { type: 'settleReservation', account: onlineAccount(this.ids[store] as StoreId), quantity: q });
  }
  sale(at: number, store: number, sku: number, q: number): boolean {
    this.now = at;
    const id = this.ids[store] as StoreId;
    const sell: Operation = { type: 'sell', account: storeAccount(id), quantity: q };
    let ok = this.storeOp(store, sku, sell);
    if (!ok && this.net.up(store, at)) {
      // A top-up round trip from the online escrow, then the sale again.
      this.bytes += 48;
      const grant = timed(this, () => topUpForSale(this.shelf(sku, store), q, this.rate(store, sku, at), this.config));
      if (grant.type === 'grant' && grant.quantity > 0) {
        this.hubOp(sku, {
          type: 'transferRights',
          from: onlineAccount(id),
          to: storeAccount(id),
          quantity: grant.quantity,
        });
        this.sync(store, sku);
        ok = this.storeOp(store, sku, sell);
      }
    }
    if (!ok) return false;
    const key = store * this.o.skus + sku;
    this.velocity.set(key, recordSale(this.velocity.get(key) ?? NO_VELOCITY, q, at, this.config.halfLifeMs));
    if (this.net.up(store, at)) this.sync(store, sku);
    else this.unsynced.mark(store, sku, at);
    return true;
  }
  order(at: number, store: number, sku: number, q: number): boolean {
    this.now = at;
    if (!this.net.up(-1, at)) return false;
    const id = this.ids[store] as StoreId;
    const key = store * this.o.skus + sku;
    this.onlineVelocity.set(
      key,
      recordSale(this.onlineVelocity.get(key) ?? NO_VELOCITY, q, at, this.config.halfLifeMs),
    );
    const reserve: Operation = { type: 'reserve', account: onlineAccount(id), quantity: q };
    let reserved = this.hubOp(sku, reserve);
    if (!reserved && this.net.up(store, at)) {
      // The escrow is short: the hub asks the connected store to release what the order lacks.
      const lacking = releaseForOrder(this.shelf(sku, store), q);
      if (lacking !== null && lacking > 0) {
        this.bytes += 24; // the release request frame
        this.storeOp(store, sku, {
          type: 'transferRights',
          from: storeAccount(id),
          to: onlineAccount(id),
          quantity: lacking,
        });
        this.sync(store, sku);
        reserved = this.hubOp(sku, reserve);
      }
    }
    if (!reserved) return false;
    this.tally(sku, 0, q);
    if (this.net.up(store, at)) {
      this.sync(store, sku);
      this.pick(store, sku, q);
    } else this.pendingPicks.push({ store, sku, q });
    return true;
  }
  restock(at: number, store: number, sku: number, q: number): void {
    this.now = at;
    this.storeOp(store, sku, { type: 'receive', account: storeAccount(this.ids[store] as StoreId), quantity: q });
    if (this.net.up(store, at)) this.sync(store, sku);
    else this.unsynced.mark(store, sku, at);
  }
  staleness(at: number, store: number, sku: number): number {
    return this.unsynced.age(store, sku, at);
  }
  finish(at: number): void {
    this.wasUp.fill(false);
    this.advance(at);
  }
  promised(store: number, sku: number): number {
    return awaitingPick(this.pendingPicks, store, sku);
  }
  lostUnits(): number {
    let lost = 0;
    for (let sku = 0; sku < this.o.skus; sku++) {
      const view = computeStock(this.hubDocs[sku] as Y.Doc);
      const e = this.expected.get(sku) ?? { added: 0, committed: 0 };
      lost += Math.abs(view.added - e.added) + Math.abs(view.committed - e.committed);
    }
    return lost;
  }
  storedBytesPerSku(): number {
    let total = 0;
    for (const doc of this.hubDocs) total += Y.encodeStateAsUpdate(doc).byteLength;
    return total / this.hubDocs.length;
  }
}
