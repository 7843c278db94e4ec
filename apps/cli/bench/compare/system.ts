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

export interface Network {
  /** The store can reach the centre (its link is up and the centre runs). */
  up(store: number, at: number): boolean;
}

/**
 * What each system must answer; `advance` runs its own clockwork (syncs, heals)
 * up to `at`. The models answer at once; shelfsync, running its real code, answers
 * once its in-process chain has settled.
 */
export interface ChainSystem {
  readonly name: string;
  advance(at: number): void | Promise<void>;
  sale(at: number, store: number, sku: number, q: number): boolean | Promise<boolean>;
  order(at: number, store: number, sku: number, q: number): boolean | Promise<boolean>;
  restock(at: number, store: number, sku: number, q: number): void | Promise<void>;
  /** How old the centre's knowledge of this store's stock of this SKU is, in ms (0: current). */
  staleness(at: number, store: number, sku: number): number;
  /** Heals everything and settles; then lost updates can be counted. */
  finish(at: number): void | Promise<void>;
  /** Units whose acknowledged changes are missing from (or extra in) the converged state. */
  lostUnits(): number;
  /** Units of the shelf promised to online orders the system took that the store has not picked yet. */
  promised(store: number, sku: number): number;
  readonly bytes: number;
  readonly hubCpuNs: bigint;
  /** Bytes the centre stores per SKU. */
  storedBytesPerSku(): number;
  /** Bytes one store keeps per SKU. */
  storeBytesPerSku(): number;
}

/** Units of one shelf awaiting a pick for orders taken. */
export function awaitingPick(
  picks: readonly { store: number; sku: number; q: number }[],
  store: number,
  sku: number,
): number {
  return picks.reduce((sum, p) => (p.store === store && p.sku === sku ? sum + p.q : sum), 0);
}

/** Earliest unsynced change per (store, SKU): what staleness is measured from. */
export class Unsynced {
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

export const timed = <T>(system: { hubCpuNs: bigint }, work: () => T): T => {
  const start = process.hrtime.bigint();
  try {
    return work();
  } finally {
    system.hubCpuNs += process.hrtime.bigint() - start;
  }
};
