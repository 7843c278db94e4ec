import type { Shelves } from './shelves.js';
import { ASSUMPTIONS, Unsynced, awaitingPick, timed, type ChainSystem, type Network } from './system.js';
import type { CompareOptions } from './workload.js';

interface Register {
  value: number;
  at: number;
  writer: number;
}
const newer = (a: Register, b: Register): boolean => a.at > b.at || (a.at === b.at && a.writer > b.writer);

/** 2. Absolute quantities synced in real time; concurrent writes: last writer wins. */
export class NaiveLww implements ChainSystem {
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
  /** A store keeps its own register. */
  storeBytesPerSku(): number {
    return ASSUMPTIONS.rowStorageBytes;
  }
}
