import type { OperationKind } from '@shelfsync/checker';
import { seededRandom, type StoreId } from '@shelfsync/protocol';
import type { SimRequest } from './sim-client.js';

/** Units each store receives of every SKU before the workload starts. */
export const INITIAL_UNITS = 40;

/** One operation of the workload: what the history records, and the request that performs it. */
export interface Operation extends SimRequest {
  readonly id: string;
  readonly kind: OperationKind;
  readonly sku: string;
  readonly quantity: number;
  /** For confirm and cancel: the reservation they close. */
  readonly reservation?: Reservation;
  /** For an operation at a store: which one (by index). */
  readonly store?: number;
}

export interface Reservation {
  readonly id: string;
  readonly sku: string;
  readonly quantity: number;
}

/** Where the operations go: the hub, and each store by index. */
export interface Endpoints {
  readonly hubUrl: string;
  /** Every hub node (cluster mode): the hub's operations spread over them. Default: `hubUrl` alone. */
  readonly hubs?: readonly { readonly name: string; readonly url: string }[];
  storeUrl(store: number): string;
}

export interface WorkloadSettings {
  readonly seed: number;
  readonly storeIds: readonly StoreId[];
  readonly skus: number;
  /** Manager override at every store (0: off); a tenth of the sales then ask for it. */
  readonly overrideCap: number;
  readonly managerToken: string;
}

/**
 * The seeded operation generator: in-store sales (some under the manager
 * override), receipts, returns, transfers and counts at the stores, and online
 * reservations at the hub, later confirmed or cancelled. The same seed gives
 * the same sequence of draws; which reservation a confirm closes depends on
 * which were answered, so on timing.
 */
export class Workload {
  readonly skus: readonly string[];
  private readonly random: () => number;
  // Bursts sent just before a kill -9 have their own seeded stream, so the workload's stays the same.
  private readonly burstRandom: () => number;
  private bursts = 0;
  /** Reservations answered as held and not yet picked to be confirmed or cancelled. */
  private readonly held: Reservation[] = [];

  constructor(
    private readonly settings: WorkloadSettings,
    private readonly endpoints: Endpoints,
  ) {
    this.skus = Array.from({ length: settings.skus }, (_, i) => `SIM-${String(i + 1).padStart(3, '0')}`);
    this.random = seededRandom(settings.seed);
    this.burstRandom = seededRandom(settings.seed ^ 0xb0057);
  }

  /** Setup: every store receives INITIAL_UNITS of every SKU, store by store. */
  setup(): Operation[] {
    return this.settings.storeIds.flatMap((_, i) =>
      this.skus.map((sku) =>
        this.storeOp(`setup-${i}-${sku}`, 'receive', sku, INITIAL_UNITS, i, '/v1/receipts', {
          sku,
          quantity: INITIAL_UNITS,
        }),
      ),
    );
  }

  /** A reservation the hub answered as held: a later operation may confirm or cancel it. */
  hold(reservation: Reservation): void {
    this.held.push(reservation);
  }

  /** The i-th operation of the seeded workload; null when it has nothing to act on (no held reservation). */
  next(i: number): Operation | null {
    const { seed, storeIds, overrideCap, managerToken } = this.settings;
    const random = this.random;
    const r = random();
    const store = Math.floor(random() * storeIds.length);
    const sku = this.skus[Math.floor(random() * this.skus.length)] as string;
    const quantity = 1 + Math.floor(random() * 3);
    const pick = random();
    const id = `op-${seed}-${i}`;
    const other = storeIds[(store + 1) % storeIds.length] as string;
    if (r < 0.45 || (r < 0.5 && overrideCap === 0)) {
      return this.storeOp(id, 'sell', sku, quantity, store, '/v1/sales', { sku, quantity });
    }
    if (r < 0.5) {
      // A manager's sale of units in hand: beyond the store's rights it is sold under the override.
      return {
        ...this.storeOp(id, 'sell', sku, quantity, store, '/v1/sales', { sku, quantity, override: true }),
        headers: { 'x-manager-token': managerToken },
      };
    }
    if (r < 0.58)
      return this.storeOp(id, 'receive', sku, quantity * 4, store, '/v1/receipts', { sku, quantity: quantity * 4 });
    if (r < 0.62) return this.storeOp(id, 'return', sku, 1, store, '/v1/returns', { sku, quantity: 1 });
    if (r < 0.66) {
      return this.storeOp(id, 'shipOut', sku, quantity, store, '/v1/transfers', { sku, quantity, toStore: other });
    }
    if (r < 0.7) {
      return this.storeOp(id, 'receiveTransfer', sku, quantity, store, '/v1/transfers/receive', {
        sku,
        quantity,
        fromStore: other,
      });
    }
    if (r < 0.72) {
      const counted = Math.floor(pick * INITIAL_UNITS);
      return this.storeOp(id, 'count', sku, counted, store, '/v1/adjustments', { sku, counted });
    }
    if (r < 0.87) {
      const atStore = pick < 0.7 ? { storeId: storeIds[store] } : {};
      return this.hubOp(id, 'reserve', sku, quantity, '/v1/reservations', { sku, quantity, ...atStore }, i);
    }
    if (this.held.length === 0) return null;
    const [reservation] = this.held.splice(Math.floor(pick * this.held.length), 1);
    if (reservation === undefined) return null;
    const kind = r < 0.94 ? 'confirm' : 'cancel';
    // Closing a reservation is idempotent by itself: it sends no key.
    return {
      id: `${reservation.id}:${kind}`,
      kind,
      sku: reservation.sku,
      quantity: reservation.quantity,
      // Another node than the one that made it, in cluster mode: the close is handed to the SKU's owner.
      url: `${this.hubUrl(i + 1)}/v1/reservations/${reservation.id}/${kind}`,
      body: {},
      auth: true,
      reservation,
    };
  }

  /**
   * A few operations to send at once just before a kill: sales to store
   * `store`, or (null) reservations at the hub (at hub node `node`, in cluster mode).
   */
  burst(store: number | null, node = 0): Operation[] {
    return Array.from({ length: 8 }, () => {
      const sku = this.skus[Math.floor(this.burstRandom() * this.skus.length)] as string;
      const id = `burst-${this.settings.seed}-${++this.bursts}`;
      return store === null
        ? this.hubOp(id, 'reserve', sku, 1, '/v1/reservations', { sku, quantity: 1 }, node)
        : this.storeOp(id, 'sell', sku, 1, store, '/v1/sales', { sku, quantity: 1 });
    });
  }

  /** The hub node the n-th hub operation goes to: round robin over the nodes (no draw, so the workload stays the same). */
  private hubUrl(n: number): string {
    const hubs = this.endpoints.hubs ?? [];
    return hubs[n % Math.max(1, hubs.length)]?.url ?? this.endpoints.hubUrl;
  }

  private storeOp(
    id: string,
    kind: OperationKind,
    sku: string,
    quantity: number,
    store: number,
    path: string,
    body: unknown,
  ): Operation {
    return {
      id,
      kind,
      sku,
      quantity,
      url: `${this.endpoints.storeUrl(store)}${path}`,
      body,
      auth: false,
      key: id,
      store,
    };
  }

  private hubOp(
    id: string,
    kind: OperationKind,
    sku: string,
    quantity: number,
    path: string,
    body: unknown,
    n: number,
  ): Operation {
    return { id, kind, sku, quantity, url: `${this.hubUrl(n)}${path}`, body, auth: true, key: id };
  }
}
