/**
 * The frames a store session sent that carry its local changes, by reference,
 * until the hub acknowledges them: when each went (for the sync lag), the last
 * one per SKU (a SKU is clean once that one is accepted), the ones the hub
 * refused (that SKU stays dirty) and the catch-up's (caught up once all are in).
 */
export class SentChanges {
  private nextRef = 1;
  private readonly sentAt = new Map<number, number>();
  private readonly lastRef = new Map<string, number>();
  private readonly refused = new Set<number>();
  private readonly catchUp = new Set<number>();

  /** A reference for a frame carrying `sku`'s local changes, sent at `now`. */
  send(sku: string, now: number, options: { catchUp?: boolean } = {}): number {
    const ref = this.nextRef++;
    if (options.catchUp === true) this.catchUp.add(ref);
    this.lastRef.set(sku, ref);
    this.sentAt.set(ref, now);
    return ref;
  }

  /** The hub refused the frame with this reference. */
  refuse(ref: number): void {
    this.refused.add(ref);
  }

  /** Whether catch-up frames still wait for their acknowledgement. */
  get catchUpPending(): boolean {
    return this.catchUp.size > 0;
  }

  /**
   * The hub acknowledged every frame up to `upTo`: the seconds each waited, and
   * the SKUs whose last frame it accepted (clean unless newer changes wait).
   */
  acknowledge(upTo: number, now: number): { lags: number[]; accepted: string[] } {
    const lags: number[] = [];
    for (const [ref, at] of this.sentAt) {
      if (ref > upTo) break;
      this.sentAt.delete(ref);
      lags.push((now - at) / 1000);
    }
    const accepted: string[] = [];
    for (const [sku, ref] of this.lastRef) {
      if (ref > upTo) continue;
      this.lastRef.delete(sku);
      if (!this.refused.has(ref)) accepted.push(sku);
    }
    for (const ref of this.refused) if (ref <= upTo) this.refused.delete(ref);
    for (const ref of this.catchUp) if (ref <= upTo) this.catchUp.delete(ref);
    return { lags, accepted };
  }
}

/**
 * The hub change number up to which a store holds every change: it moves over
 * the numbers seen without a gap (relayed changes with their number, the
 * store's own in their acknowledgement), and remembers where it was last saved.
 */
export class ChangeCursor {
  private saved: number;
  private readonly above = new Set<number>();

  constructor(private value = 0) {
    this.saved = value;
  }

  get current(): number {
    return this.value;
  }

  /** How far the cursor moved since it was last saved. */
  get unsaved(): number {
    return this.value - this.saved;
  }

  /** Notes a change number; true when the cursor moved. */
  note(change: number): boolean {
    if (change <= this.value) return false;
    this.above.add(change);
    const before = this.value;
    while (this.above.delete(this.value + 1)) this.value++;
    return this.value !== before;
  }

  /**
   * Every change up to `change` is held (the hub's `cursor` message: it sent all
   * of them this store's share holds); true when the cursor moved.
   */
  advanceTo(change: number): boolean {
    if (change <= this.value) return false;
    this.value = change;
    for (const seen of this.above) if (seen <= change) this.above.delete(seen);
    while (this.above.delete(this.value + 1)) this.value++;
    return true;
  }

  /** The cursor is being saved: returns it. */
  save(): number {
    this.saved = this.value;
    return this.value;
  }
}
