import pg from 'pg';
import { Backoff } from './change-feed.js';
import { Coalesced } from './coalesced.js';
import {
  claimOne,
  claimPending,
  pendingShards,
  storeOutcome,
  takeOver,
  unclaim,
  type Outcome,
  type OwnerRequest,
} from './owner-request-rows.js';

/** Serves a request of one kind and resolves with its answer (JSON-serialisable). */
export type RequestHandler = (request: OwnerRequest) => Promise<unknown>;

export interface OwnerServingOptions {
  readonly pool: pg.Pool;
  readonly cluster: string;
  readonly node: string;
  readonly owns: (shard: number) => boolean;
  /** Handlers running at once at most. */
  readonly concurrency: number;
  readonly onError: (error: Error) => void;
  /** A request this node answered: its waiters here are told, the other nodes notified. */
  readonly answered: (id: string, outcome: Outcome) => void;
  /** A request handed back to pending: its shard's new owner is notified. */
  readonly released: (shard: number) => void;
}

/** What a failed handler leaves in the row: text holds no NUL, and a message need not be long. */
const errorText = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).replaceAll('\0', '').slice(0, 2000) || 'handler failed';

/** An answer PostgreSQL refused as data (jsonb holds no \u0000, for one): storing it again would fail again. */
const refusedAsData = (error: unknown): boolean =>
  error instanceof pg.DatabaseError && typeof error.code === 'string' && error.code.startsWith('22');

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/** The owner's side of OwnerRequests: claims the requests of the shards this node owns and answers them. */
export class OwnerServing {
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly claims: Coalesced;
  private readonly tasks = new Set<Promise<unknown>>();
  /** The last claim round took all the room there was: more may wait. */
  private saturated = false;
  private stopped = false;
  served = 0;
  failed = 0;

  constructor(private readonly options: OwnerServingOptions) {
    this.claims = new Coalesced(() => this.claimRound(), options.onError);
  }

  serve(kind: string, handler: RequestHandler): void {
    this.handlers.set(kind, handler);
    this.kick();
  }

  serves(kind: string): boolean {
    return this.handlers.has(kind);
  }

  /** Looks for pending requests of owned shards. */
  kick(): void {
    if (!this.stopped && this.handlers.size > 0) this.claims.kick();
  }

  /** Claims and runs one request this node just recorded for a shard it owns. */
  runLocal(id: string): void {
    this.track(claimOne(this.options.pool, this.options.cluster, this.options.node, id), 'claim');
  }

  /** Takes over what a previous owner of `shard` claimed and never answered, then serves what is pending. */
  shardGained(shard: number): void {
    if (this.stopped || !this.options.owns(shard)) return;
    const { pool, cluster, node } = this.options;
    this.track(takeOver(pool, cluster, node, shard, [...this.handlers.keys()]), 'take over');
    this.kick();
  }

  /** Claims nothing more and waits for the handlers running (and their answers being stored). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.claims.stop();
    while (this.tasks.size > 0 || this.running.size > 0) {
      await Promise.allSettled([...this.tasks, ...this.running.values()]);
    }
  }

  private track(claiming: Promise<OwnerRequest[]>, what: string): void {
    const task = claiming.then(
      (claimed) => {
        for (const request of claimed) this.run(request);
      },
      (error: unknown) => this.options.onError(new Error(`owner requests: ${what} failed`, { cause: asError(error) })),
    );
    this.tasks.add(task);
    void task.finally(() => this.tasks.delete(task));
  }

  private async claimRound(): Promise<void> {
    const room = this.options.concurrency - this.running.size;
    if (this.stopped || this.handlers.size === 0) return;
    if (room <= 0) {
      this.saturated = true;
      return;
    }
    const { pool, cluster, node, owns } = this.options;
    const kinds = [...this.handlers.keys()];
    const shards = (await pendingShards(pool, cluster, kinds)).filter((shard) => owns(shard));
    if (shards.length === 0 || this.stopped) return;
    const claimed = await claimPending(pool, cluster, node, shards, kinds, room);
    this.saturated = claimed.length === room;
    for (const request of claimed) this.run(request);
  }

  /** Runs the handler of a claimed request and stores what came of it. */
  private run(request: OwnerRequest): void {
    if (this.running.has(request.id)) return;
    const work = this.handle(request).finally(() => {
      this.running.delete(request.id);
      if (this.saturated) this.kick();
    });
    this.running.set(request.id, work);
  }

  private async handle(request: OwnerRequest): Promise<void> {
    const handler = this.handlers.get(request.kind);
    // Claimed under a lease this node has lost since: the next owner serves it.
    if (handler === undefined || !this.options.owns(request.shard)) return this.release(request);
    let outcome: { answer: string } | { error: string };
    try {
      const answer = await handler(request);
      outcome = { answer: JSON.stringify(answer ?? null) ?? 'null' };
    } catch (error) {
      // A handler that failed because the shard moved away (its fenced write refused) is retried by the next owner.
      if (!this.options.owns(request.shard)) return this.release(request);
      outcome = { error: errorText(error) };
    }
    await this.store(request, outcome);
  }

  private async release(request: OwnerRequest): Promise<void> {
    const { pool, cluster, node } = this.options;
    try {
      if (await unclaim(pool, cluster, node, request.id)) this.options.released(request.shard);
    } catch (error) {
      // Left claimed: the next owner takes it over when it gains the shard.
      this.options.onError(asError(error));
    }
  }

  /** Stores the outcome, retrying while the database is away (until stopped: then the next owner redoes it). */
  private async store(request: OwnerRequest, outcome: { answer: string } | { error: string }): Promise<void> {
    const { pool, cluster, node } = this.options;
    const backoff = new Backoff(50, 2_000);
    for (;;) {
      try {
        const stored = await storeOutcome(pool, cluster, node, request.id, outcome);
        // Nothing stored: another owner took the request over; its answer counts, not this one.
        if (stored === null) return;
        if (stored.state === 'answered') this.served += 1;
        else this.failed += 1;
        this.options.answered(request.id, stored);
        return;
      } catch (error) {
        if ('answer' in outcome && refusedAsData(error)) {
          outcome = { error: `the answer could not be stored: ${errorText(error)}` };
          continue;
        }
        this.options.onError(asError(error));
        if (this.stopped) return;
        await new Promise((resolve) => setTimeout(resolve, backoff.next()).unref());
      }
    }
  }
}
