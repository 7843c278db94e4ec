import { pooledRate, recordSale, velocityAt, NO_VELOCITY, type ChannelDemand, type Velocity } from '@shelfsync/escrow';
import type { Sku, StoreId } from '@shelfsync/protocol';

/** What the hub knows of one location's demand for one SKU. */
export interface Demand {
  /** Sales at the store's tills. */
  pos: Velocity;
  /** Online reservations served from the location. */
  online: Velocity;
  /** The store's committed total (`n`) when last seen: growth is sales. Null until seen. */
  committed: number | null;
  /** When a release was last asked, and down to what, so it is not asked on every update. */
  releaseAsked: { target: number; at: number } | null;
}

/** Per SKU, its online orders across the chain and how many locations the book follows for it. */
interface SkuDemand {
  online: Velocity;
  locations: number;
}

/**
 * Per (SKU, store), the demand the allocator follows: the sales velocity at the
 * tills, learnt from the committed totals of accepted updates, and the velocity
 * of online orders served from that location, learnt from reservations, shrunk
 * toward the SKU's chain-wide online orders per location (`pooling`; see
 * `pooledRate`). In memory: a restart starts the estimates afresh.
 */
export class DemandBook {
  private readonly entries = new Map<string, Demand>();
  private readonly skus = new Map<Sku, SkuDemand>();

  constructor(
    private readonly halfLifeMs: number,
    private readonly now: () => number,
    private readonly pooling = 0,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(sku: Sku, storeId: StoreId): Demand | undefined {
    return this.entries.get(demandKey(sku, storeId));
  }

  /** The store's committed total as of its latest update: its growth is sales at the tills. */
  committed(sku: Sku, storeId: StoreId, committed: number): void {
    const demand = this.entry(sku, storeId);
    if (demand.committed !== null && committed > demand.committed) {
      demand.pos = recordSale(demand.pos, committed - demand.committed, this.now(), this.halfLifeMs);
    }
    demand.committed = Math.max(committed, demand.committed ?? 0);
  }

  /**
   * `quantity` units ordered online and served from the location. Reservations
   * reports only served orders: a rush of refused ones cannot pull a shelf online.
   */
  ordered(sku: Sku, storeId: StoreId, quantity: number): void {
    const demand = this.entry(sku, storeId);
    demand.online = recordSale(demand.online, quantity, this.now(), this.halfLifeMs);
    const chain = this.skus.get(sku);
    if (chain !== undefined) chain.online = recordSale(chain.online, quantity, this.now(), this.halfLifeMs);
  }

  /** Both channels' velocities now (units per ms). */
  rates(sku: Sku, storeId: StoreId): ChannelDemand {
    const demand = this.entries.get(demandKey(sku, storeId));
    if (demand === undefined) return { pos: 0, online: 0 };
    const now = this.now();
    const chain = this.skus.get(sku);
    const local = velocityAt(demand.online, now, this.halfLifeMs);
    return {
      pos: velocityAt(demand.pos, now, this.halfLifeMs),
      online:
        chain === undefined
          ? local
          : pooledRate(local, velocityAt(chain.online, now, this.halfLifeMs), chain.locations, this.pooling),
    };
  }

  forget(sku: Sku, storeId: StoreId): void {
    if (!this.entries.delete(demandKey(sku, storeId))) return;
    const chain = this.skus.get(sku);
    if (chain === undefined) return;
    chain.locations -= 1;
    if (chain.locations <= 0) this.skus.delete(sku);
  }

  /** Up to `limit` followed pairs from position `from` (round-robin), and where the next round starts. */
  round(from: number, limit: number): { pairs: [Sku, StoreId][]; next: number } {
    const keys = [...this.entries.keys()];
    if (keys.length === 0) return { pairs: [], next: 0 };
    // By position, not by key: a forgotten key cannot send the next round back to the start.
    const start = from % keys.length;
    const picked = [...keys.slice(start), ...keys.slice(0, start)].slice(0, limit);
    return { pairs: picked.map(splitKey), next: start + picked.length };
  }

  private entry(sku: Sku, storeId: StoreId): Demand {
    const key = demandKey(sku, storeId);
    let demand = this.entries.get(key);
    if (demand === undefined) {
      demand = { pos: NO_VELOCITY, online: NO_VELOCITY, committed: null, releaseAsked: null };
      this.entries.set(key, demand);
      const chain = this.skus.get(sku);
      if (chain === undefined) this.skus.set(sku, { online: NO_VELOCITY, locations: 1 });
      else chain.locations += 1;
    }
    return demand;
  }
}

/** One (SKU, store) pair as a map key. */
export function demandKey(sku: Sku, storeId: StoreId): string {
  return `${sku}\u0000${storeId}`;
}

function splitKey(key: string): [Sku, StoreId] {
  const at = key.indexOf('\u0000');
  return [key.slice(0, at) as Sku, key.slice(at + 1) as StoreId];
}
