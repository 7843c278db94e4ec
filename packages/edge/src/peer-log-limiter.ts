import type { Logger } from 'pino';

export interface PeerLogLimiterOptions {
  /** Lines one peer may write per window. */
  readonly linesPerWindow?: number;
  readonly windowMs?: number;
  /** Lines all peers together may write per window (suppressed-count lines included). */
  readonly totalLinesPerWindow?: number;
  /** Peers remembered at most; the least recently heard is forgotten first (it simply starts a fresh window). */
  readonly maxPeers?: number;
  readonly now?: () => number;
}

interface PeerWindow {
  startedAt: number;
  lines: number;
  suppressed: number;
}

type Level = 'warn' | 'error' | 'info';

/**
 * Bounds what any one peer can make a process log: at most `linesPerWindow`
 * lines per peer per window; the rest are counted, and the next line after the
 * window (or `flush`) says how many were suppressed. A peer that floods errors
 * therefore costs a fixed number of log lines per window, however fast it sends;
 * and all peers together at most `totalLinesPerWindow`.
 */
export class PeerLogLimiter {
  private readonly linesPerWindow: number;
  private readonly windowMs: number;
  private readonly maxPeers: number;
  private readonly now: () => number;
  private readonly peers = new Map<string, PeerWindow>();
  private readonly totalLinesPerWindow: number;
  /** All peers' lines in the current window, so many addresses together are bounded too. */
  private readonly total: PeerWindow = { startedAt: 0, lines: 0, suppressed: 0 };
  private readonly timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly log: Logger,
    options: PeerLogLimiterOptions = {},
  ) {
    this.linesPerWindow = options.linesPerWindow ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxPeers = options.maxPeers ?? 10_000;
    this.totalLinesPerWindow = options.totalLinesPerWindow ?? 1_000;
    this.now = options.now ?? Date.now;
    // On the real clock a quiet peer's suppressed count is still reported once its window ends.
    if (options.now === undefined) {
      this.timer = setInterval(() => this.flush(), this.windowMs);
      this.timer.unref();
    }
  }

  /** Stops the periodic report (the process keeps no timer for it either way: it is unref'd). */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }

  warn(peer: string, fields: Record<string, unknown>, message: string): boolean {
    return this.write('warn', peer, fields, message);
  }

  error(peer: string, fields: Record<string, unknown>, message: string): boolean {
    return this.write('error', peer, fields, message);
  }

  info(peer: string, fields: Record<string, unknown>, message: string): boolean {
    return this.write('info', peer, fields, message);
  }

  /** Reports the suppressed counts of windows that are over; returns how many peers were reported. */
  flush(): number {
    const t = this.now();
    let reported = 0;
    for (const [peer, window] of this.peers) {
      if (t - window.startedAt < this.windowMs) continue;
      if (window.suppressed > 0) {
        this.reportSuppressed(peer, window);
        reported++;
      }
      this.peers.delete(peer);
    }
    return reported;
  }

  /** Writes the line unless the peer used up its window; returns whether it was written. */
  private write(level: Level, peer: string, fields: Record<string, unknown>, message: string): boolean {
    const t = this.now();
    let window = this.peers.get(peer);
    if (window !== undefined) {
      this.peers.delete(peer);
      if (t - window.startedAt >= this.windowMs) {
        if (window.suppressed > 0) this.reportSuppressed(peer, window);
        window = undefined;
      }
    }
    if (window === undefined) {
      if (this.peers.size >= this.maxPeers) this.forgetOldest();
      window = { startedAt: t, lines: 0, suppressed: 0 };
    }
    this.peers.set(peer, window);
    if (window.lines >= this.linesPerWindow) {
      window.suppressed++;
      return false;
    }
    window.lines++;
    if (!this.takeTotal(t)) return false;
    const last = window.lines === this.linesPerWindow;
    this.log[level](
      last
        ? { peer, ...fields, note: `log limit reached for this peer; further lines counted for ${this.windowMs} ms` }
        : { peer, ...fields },
      message,
    );
    return true;
  }

  private forgetOldest(): void {
    const oldest = this.peers.entries().next().value;
    if (oldest === undefined) return;
    this.peers.delete(oldest[0]);
    if (oldest[1].suppressed > 0) this.reportSuppressed(oldest[0], oldest[1]);
  }

  /** Takes one line from the budget of all peers; false (and counted) when it is spent. */
  private takeTotal(t: number): boolean {
    if (t - this.total.startedAt >= this.windowMs) {
      const suppressed = this.total.suppressed;
      this.total.startedAt = t;
      this.total.lines = 0;
      this.total.suppressed = 0;
      if (suppressed > 0) {
        this.total.lines++;
        this.log.warn({ suppressed, windowMs: this.windowMs }, 'log lines suppressed across peers: too many peers');
      }
    }
    if (this.total.lines >= this.totalLinesPerWindow) {
      this.total.suppressed++;
      return false;
    }
    this.total.lines++;
    return true;
  }

  private reportSuppressed(peer: string, window: PeerWindow): void {
    if (!this.takeTotal(this.now())) return;
    this.log.warn(
      { peer, suppressed: window.suppressed, windowMs: this.windowMs },
      'log lines suppressed for this peer',
    );
  }
}
