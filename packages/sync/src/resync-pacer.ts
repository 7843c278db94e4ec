/** A SKU the hub found out of step is resynced at most this often. */
export const RESYNC_INTERVAL_MS = 5_000;

/**
 * Paces the resyncs of one session: each SKU at most once per interval, and one
 * asked for sooner is held until the interval is over, never dropped (a later
 * change refused meanwhile would otherwise leave the SKU apart until a
 * reconnection). `stop` drops what is held when the session ends.
 */
export class ResyncPacer {
  private readonly lastAt = new Map<string, number>();
  private readonly held = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(
    private readonly now: () => number,
    private readonly intervalMs = RESYNC_INTERVAL_MS,
  ) {}

  /** Runs `resync` for `sku` now if its interval is over, else once it is (at most one held per SKU). */
  ask(sku: string, resync: () => void): void {
    const now = this.now();
    const last = this.lastAt.get(sku);
    if (last === undefined || now - last >= this.intervalMs) {
      this.lastAt.set(sku, now);
      resync();
      return;
    }
    if (this.held.has(sku)) return;
    const timer = setTimeout(
      () => {
        this.held.delete(sku);
        this.lastAt.set(sku, this.now());
        resync();
      },
      Math.max(0, this.intervalMs - (now - last)),
    );
    timer.unref?.();
    this.held.set(sku, timer);
  }

  stop(): void {
    for (const timer of this.held.values()) clearTimeout(timer);
    this.held.clear();
  }
}
