/**
 * Requests handed to the owner of a shard through PostgreSQL: the request is
 * a row of `owner_requests`, the owner is woken by a notification (or finds it
 * by polling), claims it, runs the handler registered for its kind, and
 * stores the answer (or the handler's error) in the row; the asker is woken
 * the same way. Notifications are sent after the statement that wrote the row
 * has committed, never inside it: a full notification queue only delays.
 *
 * **Idempotent by id.** The caller gives each request a stable id. Asking
 * again with that id, on any node, while its row is kept (answers are removed
 * `answerRetentionMs` after they are stored) joins the first request: its
 * answer is returned and no handler runs again once one is stored. The same id
 * with another shard, kind or body is refused.
 *
 * **At least once.** An owner claims a request before running its handler. A
 * request claimed by a node that dies (or loses the shard) mid-way is taken
 * over by the shard's next owner on `shardGained`, so a handler may run twice
 * for one id: handlers must be idempotent by request id. A node that opens
 * hands back to pending what its name held claimed (an earlier process of it
 * died mid-way), so node names must be unique among running processes. A
 * handler that fails once its node no longer owns the shard hands the request
 * back to pending for the next owner instead of failing it; one that fails
 * otherwise stores its error, and the asker gets a RequestFailed.
 *
 * **Timeouts.** A request still pending when its ask times out is deleted: it
 * never runs (unless asked again). One already claimed is left to finish; the
 * RequestTimedOut says which. A pending request nobody claimed within
 * `answerRetentionMs` is removed too, so no ask may wait longer than that.
 */
import { assertIdentifier, HeldPool, migrate, storageMigrations } from '@shelfsync/storage-pg';
import type pg from 'pg';
import { Batcher, Coalesced } from './coalesced.js';
import { NotificationListener } from './notification-listener.js';
import { deleteExpired, notifyAll, releaseStaleClaims, type Outcome, type OwnerRequest } from './owner-request-rows.js';
import { OwnerServing, type RequestHandler } from './owner-serving.js';
import { AskWaiters } from './ask-waiters.js';

export type { OwnerRequest } from './owner-request-rows.js';
export type { RequestHandler } from './owner-serving.js';

export interface OwnerRequestsOptions {
  /** This node's id, recorded in the requests it claims. */
  readonly node: string;
  /** Which cluster of the database; default `hub`. Names the notification channels. */
  readonly cluster?: string;
  /** Whether this node holds the shard's lease now. */
  readonly owns: (shard: number) => boolean;
  /** Looks for requests to serve and answers awaited this often, whatever notifications say; default 500 ms. */
  readonly pollIntervalMs?: number;
  /** Stored answers (and requests never claimed) are removed this long after; default 10 minutes. */
  readonly answerRetentionMs?: number;
  /** Handlers this node runs at once at most; default 32. */
  readonly concurrency?: number;
  /** First wait before a dropped LISTEN connection is opened again; default 50 ms, doubling to 2 s. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** Told about failures it recovers from: a dropped connection, a failed poll or notification. */
  readonly onError?: (error: Error) => void;
  /** Connections of the pool opened from a connection string; default 4 (one listens). */
  readonly maxConnections?: number;
}

export interface OwnerRequestsStats {
  /** Asks made on this node. */
  readonly asked: number;
  /** Requests this node's handlers answered. */
  readonly served: number;
  /** Requests whose handler failed on this node. */
  readonly failed: number;
  /** Asks on this node that ended in RequestTimedOut. */
  readonly timedOut: number;
}

export class OwnerRequests {
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly serving: OwnerServing;
  private readonly waiters: AskWaiters;
  private readonly listener: NotificationListener;
  private readonly requestChannel: string;
  private readonly answerChannel: string;
  private readonly requestNotes: Batcher<string>;
  private readonly answerNotes: Batcher<string>;
  private readonly cleanup: Coalesced;

  private constructor(
    private readonly held: HeldPool,
    cluster: string,
    private readonly options: OwnerRequestsOptions,
  ) {
    const pool = held.pool;
    const onError = (error: Error): void => options.onError?.(error);
    // Both within 63 bytes: the cluster name is at most 40.
    this.requestChannel = `owner_requests_${cluster}`;
    this.answerChannel = `owner_answers_${cluster}`;
    this.requestNotes = new Batcher((shards) => notifyAll(pool, this.requestChannel, [...new Set(shards)]), onError);
    this.answerNotes = new Batcher((ids) => notifyAll(pool, this.answerChannel, ids), onError);
    this.serving = new OwnerServing({
      pool,
      cluster,
      node: options.node,
      owns: options.owns,
      concurrency: options.concurrency ?? 32,
      onError,
      answered: (id, outcome) => this.answered(id, outcome),
      released: (shard) => this.requestNotes.add(String(shard)),
    });
    this.waiters = new AskWaiters(pool, cluster, onError, (request) => this.handOver(request));
    this.listener = new NotificationListener(
      pool,
      [this.requestChannel, this.answerChannel],
      (channel, payload) => this.heard(channel, payload),
      () => this.pollNow(),
      { retryMinMs: options.retryMinMs ?? 50, retryMaxMs: options.retryMaxMs ?? 2_000, onError },
    );
    const retention = this.retentionMs();
    this.cleanup = new Coalesced(async () => void (await deleteExpired(pool, cluster, retention)), onError);
  }

  /**
   * Opens on `database` (a pool the caller keeps and ends after `close`, or a
   * connection string for a pool of its own): migrates the schema and listens.
   */
  static async open(database: pg.Pool | string, options: OwnerRequestsOptions): Promise<OwnerRequests> {
    const cluster = options.cluster ?? 'hub';
    assertIdentifier('cluster name', cluster);
    if (cluster.length > 40) throw new TypeError(`cluster name ${JSON.stringify(cluster)} is longer than 40`);
    if (options.node === '' || options.node.includes('\0')) throw new TypeError('a node needs a name without NUL');
    const held = HeldPool.hold(database, options.maxConnections ?? 4, (error) => options.onError?.(error));
    try {
      await migrate(held.pool, storageMigrations);
      // Nothing of this process runs yet: what the node's name holds claimed is an earlier life's.
      const stale = await releaseStaleClaims(held.pool, cluster, options.node);
      const opened = new OwnerRequests(held, cluster, options);
      await opened.listener.start();
      for (const shard of stale) opened.requestNotes.add(String(shard));
      opened.startTimers();
      return opened;
    } catch (error) {
      await held.release();
      throw error;
    }
  }

  /** Registers the handler for `kind`: this node serves requests of that kind for the shards it owns. */
  serve(kind: string, handler: RequestHandler): void {
    if (this.closed) throw new Error('owner requests are closed');
    this.serving.serve(kind, handler);
  }

  /**
   * Hands `request` to its shard's owner and resolves with the answer; rejects
   * with RequestFailed (the handler threw), RequestTimedOut, or the database's
   * error if the request could not be recorded (it may have been: ask again
   * with the same id). On the owner itself, the request runs here, still
   * through its row, so a retry elsewhere finds the answer.
   */
  ask(request: OwnerRequest, timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('owner requests are closed'));
    if (!(timeoutMs > 0 && timeoutMs <= this.retentionMs())) {
      return Promise.reject(new RangeError(`a timeout must be above 0 and at most ${this.retentionMs()} ms`));
    }
    return this.waiters.ask(request, timeoutMs);
  }

  /** Call once this node holds the shard's lease (`owns(shard)` is true): serves its pending requests and takes over the ones a previous owner claimed. */
  shardGained(shard: number): void {
    if (!this.closed) this.serving.shardGained(shard);
  }

  stats(): OwnerRequestsStats {
    return { ...this.waiters.counts(), served: this.serving.served, failed: this.serving.failed };
  }

  /**
   * Rejects the asks still waiting, claims nothing more, waits for the
   * handlers running to store their answers, and releases the pool if it
   * opened it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.waiters.close();
    await this.serving.stop();
    await this.listener.stop();
    await Promise.all([this.requestNotes.stop(), this.answerNotes.stop(), this.cleanup.stop()]);
    await this.held.release();
  }

  private retentionMs(): number {
    return this.options.answerRetentionMs ?? 600_000;
  }

  /**
   * A request this node recorded or joined, still pending: run it here, or wake
   * its owner (again for a joined one: the owner may have missed the first).
   */
  private handOver(request: OwnerRequest): void {
    if (this.closed) return;
    if (this.options.owns(request.shard) && this.serving.serves(request.kind)) this.serving.runLocal(request.id);
    else this.requestNotes.add(String(request.shard));
  }

  private answered(id: string, outcome: Outcome): void {
    this.waiters.settle(id, outcome);
    this.answerNotes.add(id);
  }

  private heard(channel: string, payload: string): void {
    if (channel === this.answerChannel) this.waiters.check(payload);
    else if (channel === this.requestChannel && /^\d+$/.test(payload) && this.options.owns(Number(payload))) {
      this.serving.kick();
    }
  }

  /** After a (re)connect and on every poll: what a lost notification would have said. */
  private pollNow(): void {
    this.serving.kick();
    this.waiters.checkAll();
  }

  private startTimers(): void {
    const poll = this.options.pollIntervalMs ?? 500;
    if (poll > 0 && Number.isFinite(poll)) this.every(poll, () => this.pollNow());
    this.every(Math.min(60_000, Math.max(1_000, this.retentionMs() / 4)), () => this.cleanup.kick());
  }

  private every(ms: number, run: () => void): void {
    const timer = setInterval(run, ms);
    timer.unref();
    this.timers.add(timer);
  }
}
