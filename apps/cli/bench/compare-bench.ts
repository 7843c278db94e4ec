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
import {
  HUB_WRITER,
  StoreIdSchema,
  onlineAccount,
  seededRandom,
  storeAccount,
  storeWriter,
  type StoreId,
} from '@shelfsync/protocol';
import * as Y from 'yjs';

/**
 * The comparison: one seeded day of a chain (sales at the tills, online orders
 * for pickup, restocks) with one seeded fault schedule (every store cut off once,
 * the central system down once), run against four systems on one virtual clock:
 *
 * 1. legacy: per-store databases of absolute quantities, synchronised to a
 *    central database every 15 minutes (the current system);
 * 2. naive LWW: absolute quantities synced in real time, last writer wins;
 * 3. central CP: every sale a round trip to the centre, refused when it is out of reach;
 * 4. shelfsync: the real core (Yjs documents, operations, the hub's update
 *    validation) and the real escrow policy, synced whenever a link is up.
 *
 * A ground truth of the physical shelves sits beside them: a shopper brings a unit
 * to the till only if one is on the shelf, and an online order is picked from the
 * shelf once the store learns of it; a pick that finds the shelf short is an
 * oversold unit. The baselines are models of those designs (their message and row
 * sizes are stated below); shelfsync runs its real code, so its bytes and its
 * hub-side CPU time are measured, not assumed.
 */

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

/** Assumed sizes for the baselines (bytes), from typical row and message encodings. */
export const ASSUMPTIONS = {
  /** Legacy: one row of a store's stock table in a sync batch (SKU, store, quantity, timestamp, framing). */
  legacyRowBytes: 48,
  /** LWW: one absolute-quantity write as a JSON message with a timestamp, over a WebSocket. */
  lwwMessageBytes: 96,
  /** Central CP: one sale as an HTTPS request and its answer (headers included, TLS records excluded). */
  cpRoundTripBytes: 420,
  /** Stored bytes of one (store, SKU) row in a central table, indexes included. */
  rowStorageBytes: 64,
  legacySyncMs: 15 * 60_000,
} as const;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

type Kind = 'sale' | 'order' | 'restock' | 'read';
interface WorkEvent {
  readonly at: number;
  readonly kind: Kind;
  readonly store: number;
  readonly sku: number;
  readonly quantity: number;
}
interface Outage {
  /** A store index, or -1 for the centre. */
  readonly store: number;
  readonly from: number;
  readonly to: number;
}

/** The physical shelves. */
class Shelves {
  readonly units: number[][];
  oversold = 0;
  constructor(stores: number, skus: number, initial: number) {
    this.units = Array.from({ length: stores }, () => Array.from({ length: skus }, () => initial));
  }
  has(store: number, sku: number, q: number): boolean {
    return (this.units[store]?.[sku] ?? 0) >= q;
  }
  take(store: number, sku: number, q: number): void {
    const row = this.units[store] as number[];
    const have = row[sku] ?? 0;
    if (have < q) this.oversold += q - have;
    row[sku] = Math.max(0, have - q);
  }
  add(store: number, sku: number, q: number): void {
    const row = this.units[store] as number[];
    row[sku] = (row[sku] ?? 0) + q;
  }
}

interface Network {
  /** The store can reach the centre (its link is up and the centre runs). */
  up(store: number, at: number): boolean;
}

/** What each system must answer; `advance` runs its own clockwork (syncs, heals) up to `at`. */
interface ChainSystem {
  readonly name: string;
  advance(at: number): void;
  sale(at: number, store: number, sku: number, q: number): boolean;
  order(at: number, store: number, sku: number, q: number): boolean;
  restock(at: number, store: number, sku: number, q: number): void;
  /** How old the centre's knowledge of this store's stock of this SKU is, in ms (0: current). */
  staleness(at: number, store: number, sku: number): number;
  /** Heals everything and settles; then lost updates can be counted. */
  finish(at: number): void;
  /** Units whose acknowledged changes are missing from (or extra in) the converged state. */
  lostUnits(): number;
  /** Units of the shelf promised to online orders the system took that the store has not picked yet. */
  promised(store: number, sku: number): number;
  bytes: number;
  hubCpuNs: bigint;
  storedBytesPerSku(): number;
}

/** Units of one shelf awaiting a pick for orders taken. */
function awaitingPick(picks: readonly { store: number; sku: number; q: number }[], store: number, sku: number): number {
  return picks.reduce((sum, p) => (p.store === store && p.sku === sku ? sum + p.q : sum), 0);
}

/** Earliest unsynced change per (store, SKU): what staleness is measured from. */
class Unsynced {
  private readonly since = new Map<number, number>();
  constructor(private readonly skus: number) {}
  mark(store: number, sku: number, at: number): void {
    const key = store * this.skus + sku;
    if (!this.since.has(key)) this.since.set(key, at);
  }
  clearStore(store: number): void {
    for (let sku = 0; sku < this.skus; sku++) this.since.delete(store * this.skus + sku);
  }
  clear(store: number, sku: number): void {
    this.since.delete(store * this.skus + sku);
  }
  age(store: number, sku: number, at: number): number {
    const from = this.since.get(store * this.skus + sku);
    return from === undefined ? 0 : at - from;
  }
}

const timed = <T>(system: { hubCpuNs: bigint }, work: () => T): T => {
  const start = process.hrtime.bigint();
  try {
    return work();
  } finally {
    system.hubCpuNs += process.hrtime.bigint() - start;
  }
};

/** 1. Per-store databases, a central copy refreshed every 15 minutes. */
class Legacy implements ChainSystem {
  readonly name = 'legacy (15-min sync)';
  bytes = 0;
  hubCpuNs = 0n;
  private readonly local: number[][];
  private readonly central: number[][];
  private readonly pending: { store: number; sku: number; q: number }[] = [];
  private readonly unsynced: Unsynced;
  private nextSync = ASSUMPTIONS.legacySyncMs;
  constructor(
    private readonly o: CompareOptions,
    private readonly net: Network,
    private readonly shelves: Shelves,
  ) {
    this.local = Array.from({ length: o.stores }, () => Array.from({ length: o.skus }, () => o.initialUnits));
    this.central = this.local.map((row) => [...row]);
    this.unsynced = new Unsynced(o.skus);
  }
  advance(at: number): void {
    while (this.nextSync <= at) {
      for (let s = 0; s < this.o.stores; s++) if (this.net.up(s, this.nextSync)) this.sync(s);
      this.nextSync += ASSUMPTIONS.legacySyncMs;
    }
  }
  private sync(store: number): void {
    // The whole stock table goes up; the orders taken centrally come down and are picked.
    this.bytes += this.o.skus * ASSUMPTIONS.legacyRowBytes;
    timed(this, () => {
      this.central[store] = [...(this.local[store] as number[])];
    });
    for (const p of this.pending.filter((x) => x.store === store)) {
      this.bytes += ASSUMPTIONS.legacyRowBytes;
      this.shelves.take(store, p.sku, p.q);
      const row = this.local[store] as number[];
      row[p.sku] = Math.max(0, (row[p.sku] ?? 0) - p.q);
    }
    this.pending.splice(0, this.pending.length, ...this.pending.filter((x) => x.store !== store));
    timed(this, () => {
      this.central[store] = [...(this.local[store] as number[])];
    });
    this.unsynced.clearStore(store);
  }
  sale(at: number, store: number, sku: number, q: number): boolean {
    const row = this.local[store] as number[];
    if ((row[sku] ?? 0) < q) return false;
    row[sku] = (row[sku] ?? 0) - q;
    this.unsynced.mark(store, sku, at);
    return true;
  }
  order(_at: number, store: number, sku: number, q: number): boolean {
    return timed(this, () => {
      const row = this.central[store] as number[];
      if ((row[sku] ?? 0) < q) return false;
      row[sku] = (row[sku] ?? 0) - q;
      this.pending.push({ store, sku, q });
      return true;
    });
  }
  restock(at: number, store: number, sku: number, q: number): void {
    const row = this.local[store] as number[];
    row[sku] = (row[sku] ?? 0) + q;
    this.unsynced.mark(store, sku, at);
  }
  staleness(at: number, store: number, sku: number): number {
    return this.unsynced.age(store, sku, at);
  }
  finish(at: number): void {
    for (let s = 0; s < this.o.stores; s++) this.sync(s);
    void at;
  }
  promised(store: number, sku: number): number {
    return awaitingPick(this.pending, store, sku);
  }
  lostUnits(): number {
    return 0;
  }
  storedBytesPerSku(): number {
    return this.o.stores * ASSUMPTIONS.rowStorageBytes;
  }
}

interface Register {
  value: number;
  at: number;
  writer: number;
}
const newer = (a: Register, b: Register): boolean => a.at > b.at || (a.at === b.at && a.writer > b.writer);

/** 2. Absolute quantities synced in real time; concurrent writes: last writer wins. */
class NaiveLww implements ChainSystem {
  readonly name = 'naive LWW sync';
  bytes = 0;
  hubCpuNs = 0n;
  private readonly atStore: Register[][];
  private readonly atHub: Register[][];
  /** What the acknowledged operations add up to, per (store, SKU). */
  private readonly expected: number[][];
  private readonly pendingPicks: { store: number; sku: number; q: number }[] = [];
  private readonly wasUp: boolean[];
  private readonly unsynced: Unsynced;
  constructor(
    private readonly o: CompareOptions,
    private readonly net: Network,
    private readonly shelves: Shelves,
  ) {
    const fresh = (): Register[][] =>
      Array.from({ length: o.stores }, () =>
        Array.from({ length: o.skus }, () => ({ value: o.initialUnits, at: 0, writer: 0 })),
      );
    this.atStore = fresh();
    this.atHub = fresh();
    this.expected = Array.from({ length: o.stores }, () => Array.from({ length: o.skus }, () => o.initialUnits));
    this.wasUp = Array.from({ length: o.stores }, () => true);
    this.unsynced = new Unsynced(o.skus);
  }
  private reg(side: Register[][], store: number, sku: number): Register {
    return (side[store] as Register[])[sku] as Register;
  }
  private push(store: number, sku: number, from: 'store' | 'hub'): void {
    const s = this.reg(this.atStore, store, sku);
    const h = this.reg(this.atHub, store, sku);
    this.bytes += ASSUMPTIONS.lwwMessageBytes;
    timed(this, () => {
      if (from === 'store' && newer(s, h)) Object.assign(h, s);
      if (from === 'hub' && newer(h, s)) Object.assign(s, h);
    });
  }
  advance(at: number): void {
    for (let store = 0; store < this.o.stores; store++) {
      const up = this.net.up(store, at);
      if (up && this.wasUp[store] === false) {
        // Heal: both sides exchange every register they changed; the later write wins.
        for (let sku = 0; sku < this.o.skus; sku++) {
          const s = this.reg(this.atStore, store, sku);
          const h = this.reg(this.atHub, store, sku);
          if (s.at === h.at && s.writer === h.writer) continue;
          this.push(store, sku, newer(s, h) ? 'store' : 'hub');
        }
        this.unsynced.clearStore(store);
        for (const p of this.pendingPicks.filter((x) => x.store === store)) this.shelves.take(store, p.sku, p.q);
        this.pendingPicks.splice(0, this.pendingPicks.length, ...this.pendingPicks.filter((x) => x.store !== store));
      }
      this.wasUp[store] = up;
    }
  }
  private write(side: Register[][], store: number, sku: number, value: number, at: number, writer: number): void {
    Object.assign(this.reg(side, store, sku), { value, at, writer });
  }
  sale(at: number, store: number, sku: number, q: number): boolean {
    const r = this.reg(this.atStore, store, sku);
    if (r.value < q) return false;
    this.write(this.atStore, store, sku, r.value - q, at, store + 1);
    (this.expected[store] as number[])[sku] = ((this.expected[store] as number[])[sku] ?? 0) - q;
    if (this.net.up(store, at)) this.push(store, sku, 'store');
    else this.unsynced.mark(store, sku, at);
    return true;
  }
  order(at: number, store: number, sku: number, q: number): boolean {
    if (!this.net.up(-1, at)) return false;
    const accepted = timed(this, () => {
      const r = this.reg(this.atHub, store, sku);
      if (r.value < q) return false;
      this.write(this.atHub, store, sku, r.value - q, at, 0);
      return true;
    });
    if (!accepted) return false;
    (this.expected[store] as number[])[sku] = ((this.expected[store] as number[])[sku] ?? 0) - q;
    if (this.net.up(store, at)) {
      this.push(store, sku, 'hub');
      this.shelves.take(store, sku, q);
    } else this.pendingPicks.push({ store, sku, q });
    return true;
  }
  restock(at: number, store: number, sku: number, q: number): void {
    const r = this.reg(this.atStore, store, sku);
    this.write(this.atStore, store, sku, r.value + q, at, store + 1);
    (this.expected[store] as number[])[sku] = ((this.expected[store] as number[])[sku] ?? 0) + q;
    if (this.net.up(store, at)) this.push(store, sku, 'store');
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
    for (let store = 0; store < this.o.stores; store++) {
      for (let sku = 0; sku < this.o.skus; sku++) {
        lost += Math.abs(this.reg(this.atHub, store, sku).value - ((this.expected[store] as number[])[sku] ?? 0));
      }
    }
    return lost;
  }
  storedBytesPerSku(): number {
    return this.o.stores * ASSUMPTIONS.rowStorageBytes;
  }
}

/** 3. The centre is the only authority: a sale it cannot reach is refused. */
class CentralCp implements ChainSystem {
  readonly name = 'central CP';
  bytes = 0;
  hubCpuNs = 0n;
  private readonly qty: number[][];
  private readonly queued: { store: number; sku: number; q: number; kind: 'restock' | 'pick'; at: number }[] = [];
  private readonly unsynced: Unsynced;
  constructor(
    private readonly o: CompareOptions,
    private readonly net: Network,
    private readonly shelves: Shelves,
  ) {
    this.qty = Array.from({ length: o.stores }, () => Array.from({ length: o.skus }, () => o.initialUnits));
    this.unsynced = new Unsynced(o.skus);
  }
  advance(at: number): void {
    const ready = this.queued.filter((x) => this.net.up(x.store, at));
    for (const x of ready) {
      if (x.kind === 'restock') {
        this.bytes += ASSUMPTIONS.cpRoundTripBytes;
        timed(this, () => {
          (this.qty[x.store] as number[])[x.sku] = ((this.qty[x.store] as number[])[x.sku] ?? 0) + x.q;
        });
        this.unsynced.clear(x.store, x.sku);
      } else this.shelves.take(x.store, x.sku, x.q);
    }
    this.queued.splice(0, this.queued.length, ...this.queued.filter((x) => !this.net.up(x.store, at)));
  }
  sale(at: number, store: number, sku: number, q: number): boolean {
    if (!this.net.up(store, at)) return false;
    this.bytes += ASSUMPTIONS.cpRoundTripBytes;
    return timed(this, () => {
      const row = this.qty[store] as number[];
      if ((row[sku] ?? 0) < q) return false;
      row[sku] = (row[sku] ?? 0) - q;
      return true;
    });
  }
  order(at: number, store: number, sku: number, q: number): boolean {
    if (!this.net.up(-1, at)) return false;
    const accepted = timed(this, () => {
      const row = this.qty[store] as number[];
      if ((row[sku] ?? 0) < q) return false;
      row[sku] = (row[sku] ?? 0) - q;
      return true;
    });
    if (!accepted) return false;
    // The pick list to the store (the storefront's own request is the same for every system, so not counted).
    this.bytes += ASSUMPTIONS.cpRoundTripBytes;
    if (this.net.up(store, at)) this.shelves.take(store, sku, q);
    else this.queued.push({ store, sku, q, kind: 'pick', at });
    return true;
  }
  restock(at: number, store: number, sku: number, q: number): void {
    // Goods arrive whatever the network does; the centre learns of them when it can.
    if (this.net.up(store, at)) {
      this.bytes += ASSUMPTIONS.cpRoundTripBytes;
      timed(this, () => {
        (this.qty[store] as number[])[sku] = ((this.qty[store] as number[])[sku] ?? 0) + q;
      });
    } else {
      this.queued.push({ store, sku, q, kind: 'restock', at });
      this.unsynced.mark(store, sku, at);
    }
  }
  staleness(at: number, store: number, sku: number): number {
    return this.unsynced.age(store, sku, at);
  }
  finish(at: number): void {
    this.advance(at);
  }
  promised(): number {
    // Orders are picked at once: the centre and the tills share one table.
    return 0;
  }
  lostUnits(): number {
    return 0;
  }
  storedBytesPerSku(): number {
    return this.o.stores * ASSUMPTIONS.rowStorageBytes;
  }
}

/** 4. shelfsync: real documents, real operations, the hub's real validation, the real escrow policy. */
class Shelfsync implements ChainSystem {
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

/** The seeded day: Poisson-ish arrivals on a virtual clock, restocks every two hours, storefront reads every minute. */
function workload(o: CompareOptions): { events: WorkEvent[]; outages: Outage[] } {
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

export interface SystemResult {
  readonly name: string;
  readonly stalenessMeanMin: number;
  readonly stalenessP99Min: number;
  readonly oversold: number;
  readonly lost: number;
  readonly servedInPartition: number;
  readonly refusedWithStock: number;
  /** Online pickup orders taken, of those the pickup store's shelf could fill. */
  readonly onlineServed: number;
  readonly bytesPerSale: number;
  readonly hubCpuSecondsPer1000: number;
  readonly storedBytesPerSku: number;
  readonly sales: number;
  /** shelfsync only: hub writes (grants, reservations, settlements) per sale. */
  readonly hubWritesPerSale?: number;
}

/** Runs the same day against the four systems. */
export function runComparison(o: CompareOptions = defaultCompareOptions): {
  results: SystemResult[];
  attempts: number;
  outages: Outage[];
} {
  const { events, outages } = workload(o);
  // After the day every link is healed, so each system can settle (an outage may run past the end).
  let healed = false;
  const net: Network = {
    up: (store, at) =>
      healed || !outages.some((x) => (x.store === store || x.store === -1) && at >= x.from && at < x.to),
  };
  const makers = [
    (s: Shelves) => new Legacy(o, net, s),
    (s: Shelves) => new NaiveLww(o, net, s),
    (s: Shelves) => new CentralCp(o, net, s),
    (s: Shelves) => new Shelfsync(o, net, s),
  ];
  const results: SystemResult[] = [];
  let attempts = 0;
  for (const make of makers) {
    const shelves = new Shelves(o.stores, o.skus, o.initialUnits);
    const system = make(shelves);
    const staleness: number[] = [];
    let sales = 0;
    let tried = 0;
    let refused = 0;
    let partitionTried = 0;
    let partitionServed = 0;
    let ordersCouldFill = 0;
    let ordersServed = 0;
    for (const e of events) {
      system.advance(e.at);
      switch (e.kind) {
        case 'sale': {
          // A shopper brings a unit to the till only if one is on the shelf.
          if (!shelves.has(e.store, e.sku, e.quantity)) break;
          // Counted only if an unpromised unit is there: a unit kept for an online order the store
          // has not picked yet is one the till must refuse (selling it oversells the order).
          const counts = (shelves.units[e.store]?.[e.sku] ?? 0) - system.promised(e.store, e.sku) >= e.quantity;
          const cut = !net.up(e.store, e.at);
          if (counts) tried++;
          if (counts && cut) partitionTried++;
          if (system.sale(e.at, e.store, e.sku, e.quantity)) {
            sales++;
            shelves.take(e.store, e.sku, e.quantity);
            if (counts && cut) partitionServed++;
          } else if (counts) refused++;
          break;
        }
        case 'order': {
          staleness.push(system.staleness(e.at, e.store, e.sku));
          // An order the pickup store's shelf could fill: one the system should take.
          const couldFill = (shelves.units[e.store]?.[e.sku] ?? 0) - system.promised(e.store, e.sku) >= e.quantity;
          if (couldFill) ordersCouldFill++;
          if (system.order(e.at, e.store, e.sku, e.quantity) && couldFill) ordersServed++;
          break;
        }
        case 'restock': {
          // Topped back up to the starting level, as a delivery would.
          const q = o.initialUnits - (shelves.units[e.store]?.[e.sku] ?? 0);
          if (q <= 0) break;
          shelves.add(e.store, e.sku, q);
          system.restock(e.at, e.store, e.sku, q);
          break;
        }
        case 'read':
          staleness.push(system.staleness(e.at, e.store, e.sku));
          break;
      }
    }
    healed = true;
    system.finish(o.hours * HOUR);
    healed = false;
    attempts = tried;
    staleness.sort((a, b) => a - b);
    const mean = staleness.reduce((a, b) => a + b, 0) / Math.max(1, staleness.length);
    const p99 = staleness[Math.min(staleness.length - 1, Math.floor(0.99 * staleness.length))] ?? 0;
    results.push({
      name: system.name,
      stalenessMeanMin: mean / MINUTE,
      stalenessP99Min: p99 / MINUTE,
      oversold: shelves.oversold,
      lost: system.lostUnits(),
      servedInPartition: partitionTried === 0 ? 1 : partitionServed / partitionTried,
      refusedWithStock: tried === 0 ? 0 : refused / tried,
      onlineServed: ordersCouldFill === 0 ? 1 : ordersServed / ordersCouldFill,
      bytesPerSale: sales === 0 ? 0 : system.bytes / sales,
      hubCpuSecondsPer1000: sales === 0 ? 0 : Number(system.hubCpuNs) / 1e9 / (sales / 1000),
      storedBytesPerSku: system.storedBytesPerSku(),
      sales,
      ...(system instanceof Shelfsync && sales > 0 ? { hubWritesPerSale: system.hubWrites / sales } : {}),
    });
  }
  return { results, attempts, outages };
}

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const pct = (n: number): string => `${fmt(n * 100, 1)}%`;

/** The comparison as a markdown table, systems as columns. */
export function comparisonTable(
  run: ReturnType<typeof runComparison>,
  o: CompareOptions = defaultCompareOptions,
): string {
  const r = run.results;
  const row = (label: string, cell: (x: SystemResult) => string): string => `| ${label} | ${r.map(cell).join(' | ')} |`;
  const storeOutages = run.outages.filter((x) => x.store >= 0);
  const hub = run.outages.find((x) => x.store < 0);
  return [
    `Workload (seed ${o.seed}): ${o.stores} stores, ${o.skus} SKUs (skewed demand), ${o.hours} virtual hours; ${fmt(run.attempts)} in-store sales with the unit in hand, ${o.ordersPerStoreHour} online pickup orders per store-hour, shelves topped up every 2 h; every store cut off once (${fmt(Math.min(...storeOutages.map((x) => x.to - x.from)) / MINUTE)}-${fmt(Math.max(...storeOutages.map((x) => x.to - x.from)) / MINUTE)} min), the centre down once (${fmt(((hub?.to ?? 0) - (hub?.from ?? 0)) / MINUTE)} min).`,
    '',
    `| measure | ${r.map((x) => x.name).join(' | ')} |`,
    `| --- | ${r.map(() => '---').join(' | ')} |`,
    row('storefront staleness, mean / p99', (x) => `${fmt(x.stalenessMeanMin, 1)} / ${fmt(x.stalenessP99Min, 1)} min`),
    row('oversold units (online orders the shelf could not fill)', (x) => fmt(x.oversold)),
    row('lost updates (units missing from or extra in the merged state)', (x) => fmt(x.lost)),
    row('in-store sales served while cut off', (x) => pct(x.servedInPartition)),
    row('sales refused with the unit in hand', (x) => pct(x.refusedWithStock)),
    row('online orders the shelf could fill, taken', (x) => pct(x.onlineServed)),
    row('bytes on the wire per sale', (x) => fmt(x.bytesPerSale)),
    row('hub CPU-seconds per 1,000 sales (state logic only)', (x) => fmt(x.hubCpuSecondsPer1000, 4)),
    row('stored bytes per SKU at the centre', (x) => fmt(x.storedBytesPerSku)),
    '',
    `shelfsync made ${fmt(r.find((x) => x.hubWritesPerSale !== undefined)?.hubWritesPerSale ?? 0, 2)} hub writes per sale (grants, reservations, settlements), each relayed to every connected store.`,
  ].join('\n');
}

/** Four small bar charts as one SVG: what partitions cost each system. */
export function comparisonChart(run: ReturnType<typeof runComparison>): string {
  const panels: { title: string; value: (x: SystemResult) => number; label: (v: number) => string }[] = [
    { title: 'oversold units', value: (x) => x.oversold, label: (v) => fmt(v) },
    { title: 'lost updates (units)', value: (x) => x.lost, label: (v) => fmt(v) },
    {
      title: 'in-store sales served while cut off',
      value: (x) => x.servedInPartition * 100,
      label: (v) => `${fmt(v, 0)}%`,
    },
    { title: 'storefront staleness p99 (min)', value: (x) => x.stalenessP99Min, label: (v) => fmt(v, 0) },
  ];
  const colors = ['#9a9a9a', '#d08c3a', '#5b7fb5', '#2f9e6e'];
  const width = 920;
  const panelW = width / panels.length;
  const height = 260;
  const barArea = 160;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  panels.forEach((panel, p) => {
    const x0 = p * panelW + 20;
    const max = Math.max(1, ...run.results.map(panel.value));
    parts.push(`<text x="${x0}" y="20" font-weight="600">${panel.title}</text>`);
    const barW = (panelW - 50) / run.results.length;
    run.results.forEach((r, i) => {
      const v = panel.value(r);
      const h = (v / max) * barArea;
      const x = x0 + i * barW;
      const y = 40 + barArea - h;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 6).toFixed(1)}" height="${h.toFixed(1)}" fill="${colors[i] ?? '#888'}"/>`,
      );
      parts.push(
        `<text x="${(x + (barW - 6) / 2).toFixed(1)}" y="${(y - 4).toFixed(1)}" text-anchor="middle">${panel.label(v)}</text>`,
      );
    });
  });
  run.results.forEach((r, i) => {
    const x = 20 + i * 200;
    parts.push(`<rect x="${x}" y="${height - 34}" width="12" height="12" fill="${colors[i] ?? '#888'}"/>`);
    parts.push(`<text x="${x + 18}" y="${height - 24}">${r.name}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
