import type pg from 'pg';
import { changesAfter, type ChangeRow } from './change-rows.js';

export interface ChangeFeedOptions {
  /** Reads the log this often whatever notifications say; 0 or Infinity: never. */
  readonly pollIntervalMs: number;
  /** Changes per read. */
  readonly batchSize: number;
  /** The first wait before a LISTEN connection or a failed read is tried again; doubled up to the max. */
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  /** Told about every failure the feed recovers from by itself. */
  readonly onError: (error: Error) => void;
}

/** Waits that double from `min` to `max`, back to `min` after a success. */
export class Backoff {
  private current: number;
  constructor(
    private readonly min: number,
    private readonly max: number,
  ) {
    this.current = min;
  }
  next(): number {
    const wait = this.current;
    this.current = Math.min(this.max, this.current * 2);
    return wait;
  }
  reset(): void {
    this.current = this.min;
  }
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/**
 * Follows one log on the database and hands every change above `from` to
 * `deliver`, each once, in number order, never past a missing number. Reads are
 * triggered by a notification on `channel` (heard on a LISTEN connection of its
 * own, which it opens again after it drops), by a poll, by `kick()` and after
 * each (re)connect, so a lost notification, or one sent while no connection
 * listened, only delays a change until the next trigger.
 */
export class ChangeFeed {
  private last: number;
  private stopped = false;
  private reading: Promise<void> | null = null;
  private readAgain = false;
  private listening: pg.PoolClient | null = null;
  private connecting: Promise<void> | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly connectBackoff: Backoff;
  private readonly readBackoff: Backoff;
  private notifying = false;
  /** The newest change number to announce (a notification names the newest change committed). */
  private notifySeq = 0;
  private notifyAgain = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: string,
    private readonly channel: string,
    from: number,
    private readonly deliver: (row: ChangeRow) => void,
    private readonly options: ChangeFeedOptions,
  ) {
    this.last = from;
    this.connectBackoff = new Backoff(options.retryMinMs, options.retryMaxMs);
    this.readBackoff = new Backoff(options.retryMinMs, options.retryMaxMs);
  }

  /** Resolves once the first LISTEN connection is up and the read after it is done (or the connection failed). */
  start(): Promise<void> {
    this.connecting = this.listen();
    const { pollIntervalMs } = this.options;
    if (pollIntervalMs > 0 && Number.isFinite(pollIntervalMs)) {
      const poll = (): void => {
        this.kick();
        this.after(pollIntervalMs, poll);
      };
      this.after(pollIntervalMs, poll);
    }
    return this.connecting;
  }

  /** Reads now, or once more right after the read in progress. */
  kick(): void {
    if (this.stopped) return;
    if (this.reading !== null) {
      this.readAgain = true;
      return;
    }
    this.reading = this.readAll().finally(() => {
      this.reading = null;
    });
  }

  /**
   * Wakes every follower of the log that has not delivered `seq` yet. Sent on the pool after
   * the commit, never inside it: a full notification queue would fail COMMIT.
   * Coalesced: one in flight, at most one more queued behind it. Best effort.
   */
  notify(seq: number): void {
    if (this.stopped) return;
    this.notifySeq = Math.max(this.notifySeq, seq);
    if (this.notifying) {
      this.notifyAgain = true;
      return;
    }
    this.notifying = true;
    this.notifyAgain = false;
    this.pool
      .query('SELECT pg_notify($1, $2)', [this.channel, String(this.notifySeq)])
      .catch((error: unknown) => this.options.onError(asError(error)))
      .finally(() => {
        this.notifying = false;
        if (this.notifyAgain) this.notify(this.notifySeq);
      });
  }

  /**
   * A change this process just committed, delivered now if it is the next
   * number, with no read of the log; false if it is not (the feed reads it
   * in turn, after the ones before it).
   */
  offer(row: ChangeRow): boolean {
    if (this.stopped || row.change.seq !== this.last + 1) return false;
    this.last = row.change.seq;
    this.deliver(row);
    return true;
  }

  /** Reads until it has seen every change committed before the call (or a read failed). */
  async drain(): Promise<void> {
    await this.reading;
    this.kick();
    await this.reading;
  }

  /** Stops every trigger, closes the LISTEN connection and waits for a read in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.connecting;
    this.dropListening(null);
    await this.reading;
  }

  private async readAll(): Promise<void> {
    do {
      this.readAgain = false;
      let rows: ChangeRow[];
      try {
        rows = await changesAfter(this.pool, this.log, this.last, this.options.batchSize);
      } catch (error) {
        this.options.onError(asError(error));
        this.after(this.readBackoff.next(), () => this.kick());
        return;
      }
      this.readBackoff.reset();
      for (const row of rows) {
        if (this.stopped) return;
        // Handed over by its own committer (`offer`) while this read ran.
        if (row.change.seq <= this.last) continue;
        // Commits of a log take turns on its counter row, so what is visible is
        // a prefix of the numbers; a hole means that did not hold. Stop before
        // it: delivering past it would move the cursor over a change not seen.
        if (row.change.seq !== this.last + 1) {
          this.options.onError(new Error(`change log ${this.log}: change ${row.change.seq} follows ${this.last}`));
          this.after(this.readBackoff.next(), () => this.kick());
          return;
        }
        this.last = row.change.seq;
        this.deliver(row);
      }
      if (rows.length === this.options.batchSize) this.readAgain = true;
    } while (this.readAgain && !this.stopped);
  }

  /** Opens a LISTEN connection, then reads what was committed while none listened. */
  private async listen(): Promise<void> {
    if (this.stopped) return;
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      this.retryListen(asError(error));
      return;
    }
    // Unheard, an 'error' of a checked-out client would end the process.
    client.on('error', (error) => this.dropListening(client, error));
    client.on('end', () => this.dropListening(client, new Error('the LISTEN connection ended')));
    client.on('notification', (message) => {
      if (message.channel !== this.channel) return;
      // A notification names the newest change its sender committed: nothing to read once that is delivered.
      const seq = Number(message.payload);
      if (Number.isSafeInteger(seq) && seq <= this.last) return;
      this.kick();
    });
    this.listening = client;
    try {
      await client.query(`LISTEN ${this.channel}`);
    } catch (error) {
      this.dropListening(client, asError(error));
      return;
    }
    if (this.listening !== client) return;
    this.connectBackoff.reset();
    this.kick();
    await this.reading;
  }

  /** Closes the LISTEN connection (once); after a failure, opens another later. */
  private dropListening(client: pg.PoolClient | null, error?: Error): void {
    const dropped = this.listening;
    if (dropped === null || (client !== null && dropped !== client)) return;
    this.listening = null;
    dropped.removeAllListeners('notification');
    // Closed, not returned: a pooled connection must not keep listening for another caller.
    dropped.release(true);
    if (error !== undefined && !this.stopped) this.retryListen(error);
  }

  private retryListen(error: Error): void {
    if (this.stopped) return;
    this.options.onError(error);
    this.after(this.connectBackoff.next(), () => {
      this.connecting = this.listen();
    });
  }

  private after(ms: number, run: () => void): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }
}
