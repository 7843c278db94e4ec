import { CentralCp } from './central-cp.js';
import { Legacy } from './legacy.js';
import { NaiveLww } from './naive-lww.js';
import type { AllocatorConfig } from '@shelfsync/escrow';
import { Shelfsync, type ShelfsyncDetail } from './shelfsync.js';
import { Shelves } from './shelves.js';
import type { ChainSystem, Network } from './system.js';
import {
  HOUR,
  MINUTE,
  defaultCompareOptions,
  workload,
  type CompareOptions,
  type Outage,
  type WorkEvent,
} from './workload.js';

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
  /**
   * The same, of the orders placed while the centre was up: what the escrow policy
   * decides. While the centre is down no central storefront takes an order, whatever
   * its allocation (ADR 0017).
   */
  readonly onlineServedCentreUp: number;
  /** Orders the shelf could fill that were not taken, by the pickup store's link at the time. */
  readonly onlineMissed: { readonly centreDown: number; readonly storeCutOff: number; readonly connected: number };
  /** Orders the pickup store's shelf could fill. */
  readonly onlineCouldFill: number;
  /** Of those, the orders placed while the centre was up. */
  readonly onlineCouldFillCentreUp: number;
  readonly bytesPerSale: number;
  readonly hubCpuSecondsPer1000: number;
  readonly storedBytesPerSku: number;
  readonly storeBytesPerSku: number;
  readonly sales: number;
  /** Wall-clock milliseconds the system took to run the day. */
  readonly ms: number;
  /** shelfsync only: what its real chain measured beyond the common rows. */
  readonly shelfsync?: ShelfsyncDetail;
}

export interface ComparisonRun {
  readonly results: SystemResult[];
  /** In-store sales with an unpromised unit in hand (the same for every system). */
  readonly attempts: number;
  readonly outages: Outage[];
}

export interface ComparisonSettings {
  /** The escrow policy shelfsync's hub runs (default: the product's defaults). */
  readonly allocator?: AllocatorConfig;
  /** Run shelfsync alone, without the three baselines (the policy sweep). */
  readonly shelfsyncOnly?: boolean;
}

/** Runs the same day against the four systems. */
export async function runComparison(
  o: CompareOptions = defaultCompareOptions,
  settings: ComparisonSettings = {},
): Promise<ComparisonRun> {
  const { events, outages } = workload(o);
  // After the day every link is healed, so each system can settle (an outage may run past the end).
  let healed = false;
  const net: Network = {
    up: (store, at) =>
      healed || !outages.some((x) => (x.store === store || x.store === -1) && at >= x.from && at < x.to),
  };
  const makers: ((s: Shelves) => ChainSystem | Promise<ChainSystem>)[] = [
    ...(settings.shelfsyncOnly === true
      ? []
      : [
          (s: Shelves) => new Legacy(o, net, s),
          (s: Shelves) => new NaiveLww(o, net, s),
          (s: Shelves) => new CentralCp(o, net, s),
        ]),
    (s) => Shelfsync.create(o, net, s, settings.allocator),
  ];
  const results: SystemResult[] = [];
  let attempts = 0;
  for (const make of makers) {
    const started = performance.now();
    const shelves = new Shelves(o.stores, o.skus, o.initialUnits);
    const system = await make(shelves);
    const day = new Day(o, net, shelves, system);
    for (const e of events) await day.run(e);
    healed = true;
    await system.finish(o.hours * HOUR);
    healed = false;
    attempts = day.tried;
    results.push(day.result(performance.now() - started));
  }
  return { results, attempts, outages };
}

/** One system's day: the events as they happen to it, and what they added up to. */
class Day {
  readonly staleness: number[] = [];
  sales = 0;
  tried = 0;
  refused = 0;
  partitionTried = 0;
  partitionServed = 0;
  ordersCouldFill = 0;
  ordersServed = 0;
  /** Orders the shelf could fill, placed while the centre was up: how many, and how many taken. */
  ordersCouldFillCentreUp = 0;
  ordersServedCentreUp = 0;
  readonly ordersMissed = { centreDown: 0, storeCutOff: 0, connected: 0 };

  constructor(
    private readonly o: CompareOptions,
    private readonly net: Network,
    private readonly shelves: Shelves,
    private readonly system: ChainSystem,
  ) {}

  /** Units on the shelf not promised to an online order the store has not picked yet. */
  private free(store: number, sku: number): number {
    return (this.shelves.units[store]?.[sku] ?? 0) - this.system.promised(store, sku);
  }

  async run(e: WorkEvent): Promise<void> {
    const { system, shelves } = this;
    await system.advance(e.at);
    switch (e.kind) {
      case 'sale': {
        // A shopper brings a unit to the till only if one is on the shelf.
        if (!shelves.has(e.store, e.sku, e.quantity)) break;
        // Counted only if an unpromised unit is there: a unit kept for an online order the store
        // has not picked yet is one the till must refuse (selling it oversells the order).
        const counts = this.free(e.store, e.sku) >= e.quantity;
        const cut = !this.net.up(e.store, e.at);
        if (counts) this.tried++;
        if (counts && cut) this.partitionTried++;
        if (await system.sale(e.at, e.store, e.sku, e.quantity)) {
          this.sales++;
          shelves.take(e.store, e.sku, e.quantity);
          if (counts && cut) this.partitionServed++;
        } else if (counts) this.refused++;
        break;
      }
      case 'order': {
        this.staleness.push(system.staleness(e.at, e.store, e.sku));
        // An order the pickup store's shelf could fill: one the system should take.
        const couldFill = this.free(e.store, e.sku) >= e.quantity;
        const centreUp = this.net.up(-1, e.at);
        if (couldFill) this.ordersCouldFill++;
        if (couldFill && centreUp) this.ordersCouldFillCentreUp++;
        const taken = await system.order(e.at, e.store, e.sku, e.quantity);
        if (taken && couldFill) this.ordersServed++;
        if (taken && couldFill && centreUp) this.ordersServedCentreUp++;
        else if (couldFill) {
          if (!centreUp) this.ordersMissed.centreDown++;
          else if (!this.net.up(e.store, e.at)) this.ordersMissed.storeCutOff++;
          else this.ordersMissed.connected++;
        }
        break;
      }
      case 'restock': {
        // Topped back up to the starting level, as a delivery would.
        const q = this.o.initialUnits - (shelves.units[e.store]?.[e.sku] ?? 0);
        if (q <= 0) break;
        shelves.add(e.store, e.sku, q);
        await system.restock(e.at, e.store, e.sku, q);
        break;
      }
      case 'read':
        this.staleness.push(system.staleness(e.at, e.store, e.sku));
        break;
    }
  }

  result(ms: number): SystemResult {
    const { system, sales } = this;
    const staleness = [...this.staleness].sort((a, b) => a - b);
    const mean = staleness.reduce((a, b) => a + b, 0) / Math.max(1, staleness.length);
    const p99 = staleness[Math.min(staleness.length - 1, Math.floor(0.99 * staleness.length))] ?? 0;
    return {
      name: system.name,
      stalenessMeanMin: mean / MINUTE,
      stalenessP99Min: p99 / MINUTE,
      oversold: this.shelves.oversold,
      lost: system.lostUnits(),
      servedInPartition: this.partitionTried === 0 ? 1 : this.partitionServed / this.partitionTried,
      refusedWithStock: this.tried === 0 ? 0 : this.refused / this.tried,
      onlineServed: ratio(this.ordersServed, this.ordersCouldFill),
      onlineServedCentreUp: ratio(this.ordersServedCentreUp, this.ordersCouldFillCentreUp),
      onlineMissed: { ...this.ordersMissed },
      onlineCouldFill: this.ordersCouldFill,
      onlineCouldFillCentreUp: this.ordersCouldFillCentreUp,
      bytesPerSale: sales === 0 ? 0 : system.bytes / sales,
      hubCpuSecondsPer1000: sales === 0 ? 0 : Number(system.hubCpuNs) / 1e9 / (sales / 1000),
      storedBytesPerSku: system.storedBytesPerSku(),
      storeBytesPerSku: system.storeBytesPerSku(),
      sales,
      ms,
      ...(system instanceof Shelfsync ? { shelfsync: system.detail(sales) } : {}),
    };
  }
}

/** A share of what could have been served; all of nothing is all. */
function ratio(served: number, of: number): number {
  return of <= 0 ? 1 : served / of;
}
