import { computeStock } from '@shelfsync/core';
import type { AllocatorConfig } from '@shelfsync/escrow';
import type { SaleOutcome } from '@shelfsync/point-of-sale';
import { shareMismatch } from '@shelfsync/sync/testing';
import * as Y from 'yjs';
import { CpuProfile, hubCpuMicros, type CpuSplit } from './hub-cpu.js';
import { ShelfsyncChain, skuName } from './shelfsync-chain.js';
import type { Shelves } from './shelves.js';
import { Unsynced, awaitingPick, type ChainSystem, type Network } from './system.js';
import type { FrameClass } from './wire-meter.js';
import { MINUTE, type CompareOptions } from './workload.js';

/**
 * The allocator sweeps every (SKU, store) pair it follows this often, as the earlier
 * model of this bench did; the hub's own timer defaults to every minute (--escrow-rebalance-ms).
 */
const SWEEP_EVERY_MS = 5 * MINUTE;

/** What the real chain measured beyond the common rows. */
export interface ShelfsyncDetail {
  /** Bytes of the day by what the frames were for (WebSocket headers as `framing`). */
  readonly wireBytes: Readonly<Record<FrameClass, number>>;
  readonly wireFrames: number;
  /**
   * What the hub relayed: its own writes (grants, reservations, settlements) and
   * the store updates it accepted, with the bytes of each whole frame (a store on
   * protocol 7 is sent only its share of it, and only if the update changes that).
   */
  readonly relayed: {
    readonly hubWrites: number;
    readonly hubWriteFrameBytes: number;
    readonly storeUpdates: number;
    readonly storeUpdateFrameBytes: number;
  };
  /** What the allocator did: grants by reason, releases asked, top-ups answered. */
  readonly allocatorEvents: Readonly<Record<string, number>>;
  /** Online orders taken (each a reservation, and a settlement once picked). */
  readonly ordersTaken: number;
  /** CPU time of the whole in-process chain (hub, every store, the bench's driver), per 1,000 sales. */
  readonly chainCpuSecondsPer1000: number;
  /** The CPU profile's samples by side, which split the chain's CPU time. */
  readonly cpu: CpuSplit;
  /** Bytes one store holds under its documents' keys, per SKU (mean over the stores). */
  readonly storeStoredBytesPerSku: number;
  /** The hub's documents encoded whole (what a compaction writes), per SKU. */
  readonly hubDocBytesPerSku: number;
  /** How the stores' sales ended, as their metrics count them. */
  readonly saleOutcomes: Readonly<Partial<Record<SaleOutcome, number>>>;
  /** SKUs some store still held differently from the hub after the final heal (0 when converged). */
  readonly skusApart: number;
  /**
   * Milliseconds the event loop sat idle over the day: time spent waiting on a
   * real timer (a top-up or release wait running out) rather than on work.
   */
  readonly loopIdleMs: number;
  /** Refused updates, protocol errors and the like: none in an honest chain. */
  readonly incidents: readonly string[];
}

/**
 * 4. shelfsync as it runs: a real hub (storage, sync sessions, escrow allocator,
 * reservations) and one real store node per store (storage, sync, point of sale),
 * on in-memory storage, over in-memory links that carry the real encoded frames.
 * Sales go through the point of sale (with its top-ups), online orders through the
 * hub's reservations (which ask a connected store to release) and are confirmed
 * when picked, restocks are receipts; a store's outage closes its connection and
 * its end opens a new one (hello, welcome, catch-up). Everything reads one
 * virtual clock, and the chain settles after each event.
 */
export class Shelfsync implements ChainSystem {
  readonly name = 'shelfsync';
  hubCpuNs = 0n;
  private readonly linked: boolean[];
  private readonly unsynced: Unsynced;
  private readonly pendingPicks: { store: number; sku: number; q: number; id: string }[] = [];
  /** What the acknowledged operations add up to, per SKU. */
  private readonly expected: { added: number; committed: number }[];
  private nextSweep = 0;
  private ordersTaken = 0;
  private readonly profile = new CpuProfile();
  private cpu: CpuSplit | null = null;
  private loop = performance.eventLoopUtilization();
  private lost = 0;
  private hubStored = 0;
  private final: Omit<ShelfsyncDetail, 'chainCpuSecondsPer1000' | 'cpu'> | null = null;

  private constructor(
    private readonly o: CompareOptions,
    private readonly net: Network,
    private readonly shelves: Shelves,
    private readonly chain: ShelfsyncChain,
    /** The virtual clock every part of the chain reads. */
    private readonly clock: { now: number },
  ) {
    this.linked = chain.stores.map(() => false);
    this.unsynced = new Unsynced(o.skus);
    this.expected = Array.from({ length: o.skus }, () => ({ added: 0, committed: 0 }));
  }

  /** A chain with every shelf received and split by the allocator; that setup is not part of the day's traffic. */
  static async create(
    o: CompareOptions,
    net: Network,
    shelves: Shelves,
    allocator?: AllocatorConfig,
  ): Promise<Shelfsync> {
    const clock = { now: 0 };
    const chain = await ShelfsyncChain.open({
      stores: o.stores,
      skus: o.skus,
      now: () => clock.now,
      ...(allocator === undefined ? {} : { allocator }),
    });
    const system = new Shelfsync(o, net, shelves, chain, clock);
    for (let store = 0; store < o.stores; store++) system.link(store, true);
    await chain.settle();
    for (let store = 0; store < o.stores; store++) {
      for (let sku = 0; sku < o.skus; sku++) await system.restock(0, store, sku, o.initialUnits);
    }
    chain.meter.reset();
    chain.hubSync.resetCounts();
    chain.allocatorEvents.clear();
    for (const store of chain.stores) store.outcomes.clear();
    await system.profile.start();
    system.loop = performance.eventLoopUtilization();
    return system;
  }

  get bytes(): number {
    return this.chain.meter.total();
  }

  private link(store: number, up: boolean): void {
    if (this.linked[store] === up) return;
    this.linked[store] = up;
    if (up) this.chain.connect(store);
    else this.chain.disconnect(store);
  }

  /** Brings every link to its state at `at`; a store that comes back catches up, then picks the orders it missed. */
  private async links(at: number): Promise<void> {
    this.clock.now = at;
    const back: number[] = [];
    for (let store = 0; store < this.o.stores; store++) {
      const up = this.net.up(store, at);
      if (up && this.linked[store] === false) back.push(store);
      this.link(store, up);
    }
    if (back.length === 0) return;
    await this.chain.settle();
    for (const store of back) {
      for (let sku = 0; sku < this.o.skus; sku++) this.noteSync(at, store, sku);
      for (const pick of this.pendingPicks.filter((p) => p.store === store)) await this.pick(pick);
    }
    this.pendingPicks.splice(0, this.pendingPicks.length, ...this.pendingPicks.filter((p) => !back.includes(p.store)));
  }

  async advance(at: number): Promise<void> {
    while (this.nextSweep <= at) {
      await this.links(this.nextSweep);
      // The hub's rebalancing round; the hub is not running while the centre is down.
      if (this.net.up(-1, this.nextSweep)) {
        await this.chain.allocator.sweep(this.o.stores * this.o.skus);
        await this.chain.settle();
      }
      this.nextSweep += SWEEP_EVERY_MS;
    }
    await this.links(at);
  }

  /** Whether the hub may lack some of the store's changes of the SKU (its dirty set), and since when. */
  private noteSync(at: number, store: number, sku: number): void {
    if (this.chain.store(store).storage.isDirty(skuName(sku))) this.unsynced.mark(store, sku, at);
    else this.unsynced.clear(store, sku);
  }

  async sale(at: number, store: number, sku: number, q: number): Promise<boolean> {
    const node = this.chain.store(store);
    const answer = await node.pos.perform(node.requests.sale({ sku: skuName(sku), quantity: q }));
    await this.chain.settle();
    this.noteSync(at, store, sku);
    if (answer.status !== 201) return false;
    this.tally(sku).committed += q;
    return true;
  }

  async order(at: number, store: number, sku: number, q: number): Promise<boolean> {
    // The centre is down: the storefront cannot take the order.
    if (!this.net.up(-1, at)) return false;
    const node = this.chain.store(store);
    const made = await this.chain.reservations.reserve({ sku: skuName(sku), quantity: q, storeId: node.id });
    await this.chain.settle();
    if (!made.ok) return false;
    this.ordersTaken++;
    this.tally(sku).committed += q;
    const pick = { store, sku, q, id: made.value.id };
    // The store learns of the order when it is linked; a cut-off store picks it when it is back.
    if (this.linked[store] === true) await this.pick(pick);
    else this.pendingPicks.push(pick);
    return true;
  }

  private async pick(pick: { store: number; sku: number; q: number; id: string }): Promise<void> {
    this.shelves.take(pick.store, pick.sku, pick.q);
    const confirmed = await this.chain.reservations.confirm(pick.id);
    if (!confirmed.ok) this.chain.incidents.push(`confirm ${pick.id}: ${confirmed.error.detail}`);
    await this.chain.settle();
  }

  async restock(at: number, store: number, sku: number, q: number): Promise<void> {
    const node = this.chain.store(store);
    const answer = await node.pos.perform(node.requests.receipt({ sku: skuName(sku), quantity: q }));
    await this.chain.settle();
    this.noteSync(at, store, sku);
    if (answer.status === 201) this.tally(sku).added += q;
    else this.chain.incidents.push(`receipt at ${node.id} refused: ${answer.status}`);
  }

  private tally(sku: number): { added: number; committed: number } {
    const e = this.expected[sku];
    if (e === undefined) throw new Error(`no SKU ${sku}`);
    return e;
  }

  staleness(at: number, store: number, sku: number): number {
    return this.chain.store(store).storage.isDirty(skuName(sku)) ? this.unsynced.age(store, sku, at) : 0;
  }

  async finish(at: number): Promise<void> {
    await this.advance(at);
    await this.chain.settle();
    const loopIdleMs = performance.eventLoopUtilization(this.loop).idle;
    this.cpu = await this.profile.stop();
    this.hubCpuNs = BigInt(Math.round(hubCpuMicros(this.cpu))) * 1000n;
    const chain = this.chain;
    let skusApart = 0;
    let hubDocBytes = 0;
    for (let sku = 0; sku < this.o.skus; sku++) {
      const doc = await chain.hubStorage.open(skuName(sku));
      const view = computeStock(doc);
      const e = this.tally(sku);
      this.lost += Math.abs(view.added - e.added) + Math.abs(view.committed - e.committed);
      hubDocBytes += Y.encodeStateAsUpdate(doc).byteLength;
      for (const store of chain.stores) {
        // Each store holds its share of the hub's document (or all of it, on an older protocol).
        const replica = { id: store.id, holdsShare: store.sync.holdsShare };
        const held = await store.storage.open(skuName(sku));
        if (shareMismatch(doc, held, replica, chain.hubStorage.writerClients) !== null) {
          skusApart++;
          break;
        }
      }
    }
    this.hubStored = await ShelfsyncChain.storedDocBytesPerSku(chain.hubAdapter, this.o.skus);
    let storeStored = 0;
    for (const store of chain.stores) {
      storeStored += await ShelfsyncChain.storedDocBytesPerSku(store.adapter, this.o.skus);
    }
    const saleOutcomes: Partial<Record<SaleOutcome, number>> = {};
    for (const store of chain.stores) {
      for (const [outcome, n] of store.outcomes) saleOutcomes[outcome] = (saleOutcomes[outcome] ?? 0) + n;
    }
    const wireBytes = Object.fromEntries(chain.meter.bytes) as Record<FrameClass, number>;
    this.final = {
      wireBytes,
      wireFrames: chain.meter.frames.get('framing') ?? 0,
      relayed: { ...chain.hubSync.relayed },
      allocatorEvents: Object.fromEntries(chain.allocatorEvents),
      ordersTaken: this.ordersTaken,
      storeStoredBytesPerSku: storeStored / chain.stores.length,
      hubDocBytesPerSku: hubDocBytes / this.o.skus,
      saleOutcomes,
      skusApart,
      loopIdleMs,
      incidents: [...chain.incidents],
    };
    chain.close();
  }

  /** The measured detail, once `finish` has run; `sales` scales the CPU time. */
  detail(sales: number): ShelfsyncDetail {
    if (this.final === null || this.cpu === null) throw new Error('the day has not finished');
    const chainCpuSecondsPer1000 = sales === 0 ? 0 : this.cpu.cpuMicros / 1e6 / (sales / 1000);
    return { ...this.final, cpu: this.cpu, chainCpuSecondsPer1000 };
  }

  promised(store: number, sku: number): number {
    return awaitingPick(this.pendingPicks, store, sku);
  }

  lostUnits(): number {
    return this.lost;
  }

  storedBytesPerSku(): number {
    return this.hubStored;
  }

  storeBytesPerSku(): number {
    return this.final?.storeStoredBytesPerSku ?? 0;
  }
}
