import { CentralCp } from './central-cp.js';
import { Legacy } from './legacy.js';
import { NaiveLww } from './naive-lww.js';
import { Shelfsync } from './shelfsync.js';
import { Shelves } from './shelves.js';
import type { Network } from './system.js';
import { HOUR, MINUTE, defaultCompareOptions, workload, type CompareOptions, type Outage } from './workload.js';

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
