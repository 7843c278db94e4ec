import type { Shelves } from './shelves.js';
import { ASSUMPTIONS, Unsynced, awaitingPick, timed, type ChainSystem, type Network } from './system.js';
import type { CompareOptions } from './workload.js';

/** 1. Per-store databases, a central copy refreshed every 15 minutes. */
export class Legacy implements ChainSystem {
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
      // A sync needs both ends: the store's link and the central database.
      const centreUp = this.net.up(-1, this.nextSync);
      for (let s = 0; s < this.o.stores; s++) if (centreUp && this.net.up(s, this.nextSync)) this.sync(s);
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
  order(at: number, store: number, sku: number, q: number): boolean {
    // The storefront takes orders against the central database: down with it.
    if (!this.net.up(-1, at)) return false;
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
  /** A store keeps its own stock row. */
  storeBytesPerSku(): number {
    return ASSUMPTIONS.rowStorageBytes;
  }
}
