import type { Counter } from 'prom-client';
import type { Metrics } from './metrics.js';

/** A slot held in an `AddressSlots` pool; releasing it twice is harmless. */
export interface Slot {
  release(): void;
}

export interface AddressSlotsOptions {
  /** The pool's name in metrics: a fixed word, never client input. */
  readonly name: string;
  /** Slots one client address may hold at once. */
  readonly perAddress: number;
  /** Slots all clients may hold at once; Infinity: no total cap. */
  readonly total?: number;
}

const OPEN = 'shelfsync_connections_open';
const REFUSED = 'shelfsync_connections_refused_total';

/**
 * A bounded pool of long-lived things (event streams, document readers,
 * unauthenticated connections), counted per client address and in total, so one
 * client cannot hold more than its share and all together cannot hold more than
 * the process affords. Metrics: `shelfsync_connections_open{pool}` (in use) and
 * `shelfsync_connections_refused_total{pool}` (refusals).
 */
export class AddressSlots {
  private readonly byAddress = new Map<string, number>();
  private inUse = 0;
  private readonly refusals: Counter<'pool'> | null = null;

  constructor(
    private readonly options: AddressSlotsOptions,
    metrics?: Metrics,
  ) {
    if (metrics !== undefined) {
      this.refusals = metrics.sharedCounter(REFUSED, 'Connections or streams refused at a cap, by pool', ['pool']);
      this.refusals.inc({ pool: options.name }, 0);
      metrics.sharedReadings(OPEN, 'Connections or streams open, by pool', 'pool', options.name, () => this.inUse);
    }
  }

  /** Takes a slot for `address`, or returns null (and counts a refusal) when a cap is reached. */
  acquire(address: string): Slot | null {
    const held = this.byAddress.get(address) ?? 0;
    if (held >= this.options.perAddress || this.inUse >= (this.options.total ?? Infinity)) {
      this.refusals?.inc({ pool: this.options.name });
      return null;
    }
    this.byAddress.set(address, held + 1);
    this.inUse++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.inUse--;
        const left = (this.byAddress.get(address) ?? 1) - 1;
        if (left <= 0) this.byAddress.delete(address);
        else this.byAddress.set(address, left);
      },
    };
  }

  /** Slots in use, in total and by `address`. */
  used(address?: string): number {
    return address === undefined ? this.inUse : (this.byAddress.get(address) ?? 0);
  }
}
