import type { Shelves } from './shelves.js';
import { ASSUMPTIONS, Unsynced, timed, type ChainSystem, type Network } from './system.js';
import type { CompareOptions } from './workload.js';

/** 3. The centre is the only authority: a sale it cannot reach is refused. */
export class CentralCp implements ChainSystem {
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
  /** A store keeps nothing: the centre holds the only copy. */
  storeBytesPerSku(): number {
    return 0;
  }
}
