import type { StoredReservation } from './reservation-records.js';

/**
 * The held reservations a hub writes, with their expiry timers. On one hub it
 * holds every held reservation; in a cluster, those of the SKUs this node owns:
 * a node that gains SKUs adopts their held reservations from the records, one
 * that loses them drops them (their new owner expires and closes them).
 *
 * Adoption reads records while the node writes: a reservation closed while the
 * read ran (or whose close was still committing when it began) may be read as
 * held, so it is never adopted back; scans run one at a time.
 */
export class HeldReservations {
  private readonly held = new Map<string, StoredReservation>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Taken for closing, their commit not yet settled: each resolves when it is. */
  private readonly closing = new Map<string, { settled: Promise<void>; settle: () => void }>();
  /** Taken since the running scan began, with those still closing when it did. */
  private closedDuringScan: Set<string> | null = null;
  private scans: Promise<unknown> = Promise.resolve();
  /** A scan queued and not begun: later adoptions join it (it reads the ownership of when it runs). */
  private queued: Promise<number> | null = null;

  constructor(
    /** Called when a reservation's time is up (from its timer). */
    private readonly due: (reservation: StoredReservation) => void,
    private readonly now: () => number,
  ) {}

  get(id: string): StoredReservation | undefined {
    return this.held.get(id);
  }

  has(id: string): boolean {
    return this.held.has(id);
  }

  values(): IterableIterator<StoredReservation> {
    return this.held.values();
  }

  /**
   * Units held by reservations of the same SKU and location made after
   * `reservation` (ties broken by id): a deficit's risk falls on those first.
   */
  newerAt(reservation: StoredReservation): number {
    let newer = 0;
    for (const other of this.held.values()) {
      if (other.sku !== reservation.sku || other.location !== reservation.location || other.id === reservation.id) {
        continue;
      }
      const later =
        other.createdAt > reservation.createdAt ||
        (other.createdAt === reservation.createdAt && other.id > reservation.id);
      if (later) newer += other.quantity;
    }
    return newer;
  }

  /** Holds `reservation` and arms its expiry, unless it is held already. */
  add(reservation: StoredReservation): void {
    if (this.held.has(reservation.id)) return;
    this.held.set(reservation.id, reservation);
    this.schedule(reservation, reservation.expiresAt);
  }

  /** In the SKU's write order: takes the reservation for closing; undefined if another close took it first. */
  take(id: string): StoredReservation | undefined {
    const found = this.held.get(id);
    if (found === undefined) return undefined;
    this.held.delete(id);
    let settle = (): void => {};
    const settled = new Promise<void>((resolve) => (settle = resolve));
    this.closing.set(id, { settled, settle });
    this.closedDuringScan?.add(id);
    return found;
  }

  /** The close of `id` is stored: its timer goes. */
  closed(id: string): void {
    this.settle(id);
    const timer = this.timers.get(id);
    if (timer !== undefined) clearTimeout(timer);
    this.timers.delete(id);
  }

  /** The close of `reservation` was not stored: it is held again while this node still writes its SKU. */
  restore(reservation: StoredReservation, owned: boolean): void {
    if (owned) {
      this.held.set(reservation.id, reservation);
      // Its timer may have fired while the close ran, finding it taken.
      if (!this.timers.has(reservation.id)) this.schedule(reservation, reservation.expiresAt);
    } else this.closed(reservation.id);
    this.settle(reservation.id);
  }

  /**
   * Resolves once what is under way for `id` has settled: its close being
   * committed, and the adoptions begun so far. After it, `get(id)` and the
   * stored record agree, on a node that writes the SKU.
   */
  async settledFor(id: string): Promise<void> {
    await this.closing.get(id)?.settled;
    await this.scans;
  }

  private settle(id: string): void {
    this.closing.get(id)?.settle();
    this.closing.delete(id);
  }

  /** Its expiry failed: tried again in `ms`, while still held here. */
  retryLater(reservation: StoredReservation, ms: number): void {
    if (this.held.has(reservation.id)) this.schedule(reservation, this.now() + ms);
  }

  /**
   * Adopts the held reservations among `load()`'s that `owned` accepts and this
   * node does not hold; resolves with how many. Scans run one at a time.
   */
  adopt(
    load: () => Promise<readonly StoredReservation[]>,
    owned: (reservation: StoredReservation) => boolean,
  ): Promise<number> {
    if (this.queued !== null) return this.queued;
    const scan = this.scans.then(async () => {
      this.queued = null;
      const skipped = new Set(this.closing.keys());
      this.closedDuringScan = skipped;
      try {
        let adopted = 0;
        for (const reservation of await load()) {
          if (reservation.state !== 'held' || skipped.has(reservation.id) || this.held.has(reservation.id)) continue;
          if (!owned(reservation)) continue;
          this.add(reservation);
          adopted++;
        }
        return adopted;
      } finally {
        this.closedDuringScan = null;
      }
    });
    this.queued = scan;
    this.scans = scan.catch(() => undefined);
    return scan;
  }

  /** Drops the held reservations `owned` no longer accepts (another node writes their SKUs now); returns how many. */
  disown(owned: (reservation: StoredReservation) => boolean): number {
    let dropped = 0;
    for (const reservation of [...this.held.values()]) {
      if (owned(reservation)) continue;
      this.held.delete(reservation.id);
      this.closed(reservation.id);
      dropped++;
    }
    return dropped;
  }

  /** Stops every timer (shutdown); the reservations stay stored. */
  stop(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  get size(): number {
    return this.held.size;
  }

  private schedule(reservation: StoredReservation, at: number): void {
    const previous = this.timers.get(reservation.id);
    if (previous !== undefined) clearTimeout(previous);
    const delay = Math.max(0, at - this.now());
    // Timers beyond ~24.8 days overflow; re-arm in steps.
    const timer = setTimeout(
      () => {
        this.timers.delete(reservation.id);
        if (!this.held.has(reservation.id)) return;
        if (at > this.now()) this.schedule(reservation, at);
        else this.due(reservation);
      },
      Math.min(delay, 2 ** 31 - 1),
    );
    timer.unref?.();
    this.timers.set(reservation.id, timer);
  }
}
