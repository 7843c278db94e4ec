import { computeStock, rightsOf, type Operation } from '@shelfsync/core';
import {
  ErrorCode,
  StoreIdSchema,
  fail,
  ok,
  parseAccountId,
  type AccountId,
  type Reservation,
  type ReservationRequest,
  type Result,
  type Sku,
} from '@shelfsync/protocol';
import { RecordStore, type StorageAdapter, type StorageWrite } from '@shelfsync/storage';
import { HeldReservations } from './held-reservations.js';
import { RecordChanged } from './hub-change-log.js';
import type { HubAllocator } from './hub-allocator.js';
import type { HubWriter } from './hub-engine.js';
import {
  StoredSchema,
  pickAccount,
  reservationKey as key,
  view,
  type StoredReservation,
} from './reservation-records.js';

export interface ReservationsOptions {
  /** How long an unconfirmed reservation holds its units. */
  readonly ttlMs: number;
  readonly now: () => number;
  readonly newId: () => string;
  readonly onExpired?: (reservation: Reservation) => void;
  /** A failure no caller waits for (an expiry, settling a deficit after a close): logged, never the caller's. */
  readonly onError?: (error: unknown, what: string) => void;
  /**
   * Whether the escrow allocator runs (`--escrow on`): an order the online escrow
   * cannot cover asks a connected store to release what it lacks, and waits for it;
   * a served order feeds the allocator's demand and may rebalance its location.
   * Off, neither: rights stay where they are.
   */
  readonly escrow?: boolean;
  /**
   * In a cluster: whether this node writes the SKU now (holds its shard's
   * lease). Held reservations of other SKUs are left to their owner; `adopt`
   * and `disown` follow the leases. Absent: this hub writes every SKU.
   */
  readonly owns?: (sku: Sku) => boolean;
}

/** What the reservations ask of the escrow allocator: releases for orders, rebalancing after them, reads. */
export type ReservationEscrow = Pick<HubAllocator, 'releaseForOrder' | 'ordered' | 'settleDeficit' | 'document'>;

const EXPIRY_RETRY_MS = 1_000;

/**
 * Online reservations, held by the hub in the online accounts it alone writes:
 * reserve (rights of `online:X` set aside), confirm (picked up or shipped),
 * cancel or expire (units back to `online:X`). Each is one hub write of the
 * SKU's document (`HubWriter.writeAsHub`, in the reservation and release lanes)
 * in one atomic batch with the reservation's record, serialized per SKU with
 * every other hub write, so reservations are linearizable per SKU:
 * of many requests for the last unit, exactly one wins. Expiry timers are
 * rebuilt from the records on start, so they survive a restart; in a cluster
 * (`owns`), the node that gains a SKU adopts its held reservations, so they
 * survive a failover too.
 */
export class Reservations {
  private readonly records: RecordStore;
  /** Held reservations, authoritative while this node writes their SKUs; closing one takes it here first. */
  private readonly held: HeldReservations;

  private constructor(
    adapter: StorageAdapter,
    private readonly writer: HubWriter,
    private readonly escrow: ReservationEscrow,
    private readonly options: ReservationsOptions,
  ) {
    this.records = new RecordStore(adapter);
    this.held = new HeldReservations((reservation) => this.expire(reservation), options.now);
  }

  /** Reservations stored in `adapter`, written through `writer` (the hub's engine), with `escrow` the allocator. */
  static async open(
    adapter: StorageAdapter,
    writer: HubWriter,
    escrow: ReservationEscrow,
    options: ReservationsOptions,
  ): Promise<Reservations> {
    const reservations = new Reservations(adapter, writer, escrow, options);
    await reservations.adopt();
    return reservations;
  }

  /**
   * Holds the stored held reservations of the SKUs this node writes and does
   * not hold yet, with their expiry timers; resolves with how many. A cluster
   * node calls it after gaining shard leases.
   */
  adopt(): Promise<number> {
    return this.held.adopt(
      () => this.loadStored(),
      (reservation) => this.owned(reservation.sku),
    );
  }

  /** Drops the held reservations of SKUs this node no longer writes (a lease lost); returns how many. */
  disown(): number {
    return this.held.disown((reservation) => this.owned(reservation.sku));
  }

  /** Held reservations this node holds now. */
  get heldCount(): number {
    return this.held.size;
  }

  /**
   * Sets `quantity` units aside from one location's online rights: the given
   * store's, or the location with the most. `recordWrites` are stored in the
   * same batch (the idempotency answer of the request).
   */
  async reserve(
    request: ReservationRequest,
    recordWrites: (reservation: Reservation) => readonly StorageWrite[] = () => [],
  ): Promise<Result<Reservation>> {
    let result = await this.reserveNow(request, recordWrites);
    if (!result.ok && result.error.code === ErrorCode.InsufficientStock && this.options.escrow === true) {
      // Units on a connected store's shelf, not in its escrow: it is asked to release them, within a bounded wait.
      const placed = await this.escrow.releaseForOrder(request.sku, request.quantity, request.storeId, (storeId) =>
        this.reserveNow({ ...request, storeId }, recordWrites),
      );
      if (placed !== null) result = placed;
    }
    // Served orders are the location's online demand; a rush of refused ones would inflate it past the shelf.
    const served =
      result.ok && this.options.escrow === true ? StoreIdSchema.safeParse(result.value.location) : undefined;
    if (served?.success === true) {
      // After the answer is decided, not before it: the order waits for no rebalance.
      this.escrow
        .ordered(served.data, request.sku, request.quantity)
        .catch((error: unknown) => this.options.onError?.(error, 'rebalancing after an order'));
    }
    return result;
  }

  /** One attempt, in the SKU's write order, on the online rights as they are. */
  private async reserveNow(
    request: ReservationRequest,
    recordWrites: (reservation: Reservation) => readonly StorageWrite[],
  ): Promise<Result<Reservation>> {
    const now = this.options.now();
    // What the decision inside the SKU's write order found.
    const outcome: { refusal?: Result<Reservation>; made?: StoredReservation } = {};
    const result = await this.writer.writeAsHub(
      request.sku,
      'reservation',
      (doc): Operation | null => {
        const choice = pickAccount(doc, request);
        if (choice.account === null) {
          outcome.refusal = fail(ErrorCode.InsufficientStock, choice.detail, { available: choice.available });
          return null;
        }
        outcome.made = {
          id: this.options.newId(),
          sku: request.sku,
          location: parseAccountId(choice.account)?.location ?? '',
          account: choice.account,
          quantity: request.quantity,
          state: 'held',
          createdAt: now,
          expiresAt: now + this.options.ttlMs,
          closedAt: null,
        };
        return { type: 'reserve', account: choice.account, quantity: request.quantity };
      },
      () => {
        const made = outcome.made;
        return made === undefined ? [] : [this.records.putWrite(key(made.id), made), ...recordWrites(view(made))];
      },
    );
    if (outcome.refusal !== undefined) return outcome.refusal;
    const made = outcome.made;
    if (result === null || !result.ok || made === undefined) {
      return result !== null && !result.ok ? result : fail(ErrorCode.Internal, 'the reservation was not written');
    }
    // A lease lost meanwhile leaves it to the SKU's new owner, who adopts it from its record.
    if (this.owned(made.sku)) this.held.add(made);
    return ok(await this.withRisk(made));
  }

  /** The units were picked up or shipped. Confirming twice answers the same. */
  confirm(id: string): Promise<Result<Reservation>> {
    return this.close(id, 'confirmed');
  }

  /** The order is cancelled: the units go back on sale. Cancelling twice answers the same. */
  cancel(id: string): Promise<Result<Reservation>> {
    return this.close(id, 'cancelled');
  }

  async get(id: string): Promise<Reservation | undefined> {
    const held = this.held.get(id);
    if (held !== undefined) return this.withRisk(held);
    const stored = await this.records.get(key(id), StoredSchema);
    return stored === undefined ? undefined : view(stored);
  }

  /**
   * Expires every held reservation whose time is up (the timers call this; a
   * simulation with its own clock may too). Returns how many expired.
   */
  async expireDue(): Promise<number> {
    const now = this.options.now();
    const due = [...this.held.values()].filter((r) => r.expiresAt <= now);
    let expired = 0;
    for (const reservation of due) {
      const result = await this.close(reservation.id, 'expired');
      if (result.ok && result.value.state === 'expired') expired++;
    }
    return expired;
  }

  /** Stops the expiry timers (hub shutdown); held reservations stay stored and are rescheduled on start. */
  stop(): void {
    this.held.stop();
  }

  private owned(sku: Sku): boolean {
    return this.options.owns?.(sku) ?? true;
  }

  private loadStored(): Promise<StoredReservation[]> {
    return this.records.range(['reservation'], StoredSchema);
  }

  private expire(reservation: StoredReservation): void {
    this.close(reservation.id, 'expired').catch((error: unknown) => {
      this.options.onError?.(error, `expiring reservation ${reservation.id} (retried in ${EXPIRY_RETRY_MS} ms)`);
      // Still held: try again, or the units would stay out of sale until a restart.
      this.held.retryLater(reservation, EXPIRY_RETRY_MS);
    });
  }

  private async close(id: string, to: 'confirmed' | 'cancelled' | 'expired'): Promise<Result<Reservation>> {
    // A close still committing, or a node that just gained the SKU adopting its reservations, settles first.
    let found = this.held.get(id) ?? (await this.held.settledFor(id).then(() => this.held.get(id)));
    if (found === undefined) {
      const stored = await this.records.get(key(id), StoredSchema);
      if (stored === undefined) return fail(ErrorCode.NotFound, `no reservation ${id}`);
      if (stored.state !== 'held') {
        if (stored.state === to) return ok(view(stored));
        return fail(ErrorCode.ReservationClosed, `reservation ${id} is ${stored.state}`, { state: stored.state });
      }
      // Held in the records, not here: made by a commit whose answer was lost, or before a failed close.
      // The close's commit checks the record is still held, so taking it up again cannot close it twice.
      if (!this.owned(stored.sku)) {
        return fail(ErrorCode.WriteConflict, `${stored.sku} is written by another hub node now; try again`);
      }
      this.held.add(stored);
      found = stored;
    }
    const closedAt = this.options.now();
    const outcome: { taken?: StoredReservation; closed?: StoredReservation } = {};
    let result: Awaited<ReturnType<HubWriter['writeAsHub']>>;
    try {
      result = await this.writer.writeAsHub(
        found.sku,
        'release',
        (): Operation | null => {
          // Decided in the SKU's write order: a concurrent close of the same reservation finds it gone.
          const current = this.held.take(id);
          if (current === undefined) return null;
          outcome.taken = current;
          outcome.closed = { ...current, state: to, closedAt };
          return {
            type: to === 'confirmed' ? 'settleReservation' : 'cancelReservation',
            account: current.account,
            quantity: current.quantity,
          };
        },
        // Stored only while the record still says held: a close whose commit landed unanswered is never made twice.
        () =>
          outcome.closed === undefined
            ? []
            : [this.records.putWriteIf(key(id), outcome.closed, StoredSchema, (stored) => stored?.state === 'held')],
      );
    } catch (error) {
      if (error instanceof RecordChanged && outcome.taken !== undefined) {
        // Its record is no longer held (an earlier close of it landed unanswered): answer from the record.
        this.held.closed(id);
        return this.close(id, to);
      }
      // Not stored (a lease moved, the database refused): held again while this node writes the SKU.
      if (outcome.taken !== undefined) this.held.restore(outcome.taken, this.owned(found.sku));
      throw error;
    }
    const closed = outcome.closed;
    // Closed meanwhile by another request: answer from its record.
    if (closed === undefined) return this.close(id, to);
    this.held.closed(id);
    if (result === null || !result.ok) return fail(ErrorCode.Internal, `closing reservation ${id} failed`);
    const done = view(closed);
    if (to === 'expired') this.options.onExpired?.(done);
    // Units back online settle what a manager override at that store still owes, at once.
    // The close is done and answered as such whatever happens here (the next sweep retries).
    const store = StoreIdSchema.safeParse(closed.location);
    if (to !== 'confirmed' && store.success) {
      await this.escrow
        .settleDeficit(store.data, closed.sku)
        .catch((error: unknown) => this.options.onError?.(error, 'settling a deficit after a reservation closed'));
    }
    return ok(done);
  }

  /**
   * A held reservation as answered, flagged when its store's unsettled override
   * deficit may have sold its units: the location's units at risk fall on its
   * newest held reservations first (the oldest promises are kept longest).
   */
  private async withRisk(reservation: StoredReservation): Promise<Reservation> {
    const answer = view(reservation);
    const doc = await this.escrow.document(reservation.sku);
    // Nothing is at risk where the store owes nothing: the common case skips deriving the whole document.
    if (rightsOf(doc, `store:${reservation.location}` as AccountId) >= 0) return answer;
    const atRisk = computeStock(doc).locations[reservation.location]?.reservationsAtRisk ?? 0;
    if (atRisk === 0) return answer;
    const newer = this.held.newerAt(reservation);
    return { ...answer, atRisk: newer < atRisk };
  }
}
