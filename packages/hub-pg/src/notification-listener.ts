import type pg from 'pg';
import { Backoff } from './change-feed.js';

export interface NotificationListenerOptions {
  /** The first wait before a dropped LISTEN connection is opened again; doubled up to the max. */
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  readonly onError: (error: Error) => void;
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/**
 * Holds one LISTEN connection for a few channels, opening another after it
 * drops. `connected` runs after every (re)connect, so the caller can look for
 * what was sent while nobody listened. Channel names must be plain SQL
 * identifiers (checked by the caller).
 */
export class NotificationListener {
  private stopped = false;
  private client: pg.PoolClient | null = null;
  private connecting: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly backoff: Backoff;

  constructor(
    private readonly pool: pg.Pool,
    private readonly channels: readonly string[],
    private readonly heard: (channel: string, payload: string) => void,
    private readonly connected: () => void,
    private readonly options: NotificationListenerOptions,
  ) {
    this.backoff = new Backoff(options.retryMinMs, options.retryMaxMs);
  }

  /** Resolves once the first connection listens (or failed; it is retried). */
  start(): Promise<void> {
    this.connecting = this.listen();
    return this.connecting;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.connecting;
    this.drop(null);
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      this.retry(asError(error));
      return;
    }
    // Unheard, an 'error' of a checked-out client would end the process.
    client.on('error', (error) => this.drop(client, error));
    client.on('end', () => this.drop(client, new Error('the LISTEN connection ended')));
    client.on('notification', (message) => {
      if (message.payload !== undefined) this.heard(message.channel, message.payload);
    });
    this.client = client;
    try {
      for (const channel of this.channels) await client.query(`LISTEN ${channel}`);
    } catch (error) {
      this.drop(client, asError(error));
      return;
    }
    if (this.client !== client || this.stopped) return;
    this.backoff.reset();
    this.connected();
  }

  /** Closes the connection (once); after a failure, opens another later. */
  private drop(client: pg.PoolClient | null, error?: Error): void {
    const dropped = this.client;
    if (dropped === null || (client !== null && dropped !== client)) return;
    this.client = null;
    dropped.removeAllListeners('notification');
    // Closed, not returned: a pooled connection must not keep listening for another caller.
    dropped.release(true);
    if (error !== undefined) this.retry(error);
  }

  private retry(error: Error): void {
    if (this.stopped) return;
    this.options.onError(error);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connecting = this.listen();
    }, this.backoff.next());
    this.timer.unref();
  }
}
