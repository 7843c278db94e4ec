import type { Sku } from '@shelfsync/protocol';
import type { HubChangeLog } from '@shelfsync/sync';
import { epochTagOf } from './etags.js';
import { systemTimers, type FeedTimers, type WarningLog } from './ports.js';
import type { StockBodies } from './stock-bodies.js';

/** A subscriber's changes are sent at most this often, coalesced per SKU. */
export const EVENTS_FLUSH_MS = 100;
export const HEARTBEAT_MS = 15_000;
/** Bytes a subscriber may have queued and unread before its stream is ended. */
export const MAX_EVENT_BACKLOG = 1024 * 1024;

/** The first text of every stream: how long a client waits before it reconnects. */
export const RETRY_TEXT = `retry: 2000\n\n`;
/** Sent instead of a replay when the client's last event id is from other data: it reloads everything. */
export const RESET_TEXT = `event: reset\ndata: {"reason":"the hub's data changed; reload the full state"}\n\n`;
export const HEARTBEAT_TEXT = ': keep-alive\n\n';

/** Where one subscriber's Server-Sent Events text goes (an HTTP response stream). */
export interface EventSink {
  write(text: string): void;
  /** Bytes written and not yet taken by the client. */
  backlog(): number;
  /** The stream is over; called once, whoever ended it. */
  end(): void;
}

export interface Subscription {
  /** The client went away: stops the feed and ends the sink. */
  close(): void;
}

export interface StockEventsOptions {
  readonly log: WarningLog;
  readonly timers?: FeedTimers;
}

/**
 * The stock change feed (GET /v1/events): each subscriber receives a `stock`
 * event per changed SKU it follows, with the same serialized body as the read,
 * coalesced per SKU and sent at most every EVENTS_FLUSH_MS. Event ids are
 * `epochTag.seq`; a subscriber that gives the id of its last event resumes with
 * every SKU changed since, at its latest state, and one with an id from other
 * data is told to reload (`reset`). A heartbeat comment keeps idle streams open
 * through proxies.
 */
export class StockEvents {
  private readonly open = new Set<Feed>();
  private readonly epochTag: string;
  private readonly timers: FeedTimers;

  constructor(
    private readonly storage: HubChangeLog,
    private readonly bodies: StockBodies,
    private readonly options: StockEventsOptions,
  ) {
    this.epochTag = epochTagOf(storage.epoch);
    this.timers = options.timers ?? systemTimers;
  }

  /**
   * Starts a feed into `sink`: the retry hint, then the replay or the reset a
   * `lastEventId` asks for, then live changes. Subscribed before it returns, so
   * no commit after this call is missed. `skus` null follows every SKU.
   */
  subscribe(
    request: { skus: ReadonlySet<Sku> | null; lastEventId?: string | undefined },
    sink: EventSink,
  ): Subscription {
    const feed = new Feed(this.storage, this.bodies, this.epochTag, this.timers, this.options.log, request.skus, sink);
    feed.onEnd = () => this.open.delete(feed);
    this.open.add(feed);
    feed.start(request.lastEventId);
    return { close: () => feed.end() };
  }

  /** Feeds open now. */
  get size(): number {
    return this.open.size;
  }

  /** Ends every open feed: the hub is stopping, or its storage failed and nothing may be read from it. */
  closeAll(): void {
    for (const feed of [...this.open]) feed.end();
  }
}

/** One subscriber's feed. */
class Feed {
  onEnd: () => void = () => {};
  private readonly pending = new Map<Sku, number>();
  private cancelFlush: (() => void) | null = null;
  private stopHeartbeat: () => void = () => {};
  private unsubscribe: () => void = () => {};
  private closed = false;

  constructor(
    private readonly storage: HubChangeLog,
    private readonly bodies: StockBodies,
    private readonly epochTag: string,
    private readonly timers: FeedTimers,
    private readonly log: WarningLog,
    private readonly skus: ReadonlySet<Sku> | null,
    private readonly sink: EventSink,
  ) {}

  start(lastEventId: string | undefined): void {
    this.sink.write(RETRY_TEXT);
    // Resume: what changed after the client's last event, at its latest state.
    if (lastEventId !== undefined && lastEventId !== '') {
      const [tag, seqText] = lastEventId.split('.');
      const seq = Number(seqText);
      if (tag !== this.epochTag || !Number.isInteger(seq) || seq < 0) {
        this.sink.write(RESET_TEXT);
      } else {
        for (const sku of this.storage.changedSince(seq)) {
          this.queue(sku, Math.min(this.storage.changeOf(sku)?.seq ?? 0, this.storage.cursor()));
        }
      }
    }
    this.unsubscribe = this.storage.onCommit((sku, change) => this.queue(sku, change.seq));
    this.stopHeartbeat = this.timers.every(HEARTBEAT_MS, () => this.write(HEARTBEAT_TEXT));
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.stopHeartbeat();
    this.cancelFlush?.();
    this.onEnd();
    this.sink.end();
  }

  private queue(sku: Sku, seq: number): void {
    if (this.closed || (this.skus !== null && !this.skus.has(sku))) return;
    this.pending.set(sku, seq);
    this.cancelFlush ??= this.timers.once(EVENTS_FLUSH_MS, () => {
      this.flush().catch((error: unknown) => this.log.warn({ err: error }, 'event stream write failed'));
    });
  }

  private async flush(): Promise<void> {
    this.cancelFlush = null;
    const batch = [...this.pending].sort((a, b) => a[1] - b[1]);
    this.pending.clear();
    for (const [sku, seq] of batch) {
      const change = this.storage.changeOf(sku);
      if (change === undefined || this.closed) continue;
      // The same serialized body as the read: one encoding per change, however many listen.
      const json = await this.bodies.json(sku, change);
      // The id is the durable change that queued this event, never a newer one
      // still being written: a client resumes from it, and a number a crash took
      // back would be given to another change.
      this.write(`id: ${this.epochTag}.${seq}\nevent: stock\ndata: ${json}\n\n`);
    }
  }

  // A client that stops reading is let go before its backlog grows without bound: it
  // reconnects and resumes from its Last-Event-ID, which costs only what changed.
  private write(text: string): void {
    if (this.closed) return;
    if (this.sink.backlog() > MAX_EVENT_BACKLOG) this.end();
    else this.sink.write(text);
  }
}
