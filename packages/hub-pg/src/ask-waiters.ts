import type pg from 'pg';
import { Coalesced } from './coalesced.js';
import { outcomes, submit, withdraw, type Outcome, type OwnerRequest } from './owner-request-rows.js';
import { RequestFailed, RequestTimedOut } from './request-errors.js';

interface Waiter {
  readonly request: OwnerRequest;
  /** The body as JSON text, checked once. */
  readonly body: string;
  readonly timeoutMs: number;
  readonly resolve: (answer: unknown) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
  /** Its submits and its withdrawal take turns: a withdrawal is never overtaken by a submit sent before it. */
  chain: Promise<void>;
  done: boolean;
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/** Ids, kinds and shards become SQL parameters and notification payloads: kept short and NUL-free. */
function checkRequest(request: OwnerRequest): void {
  const text = (value: unknown, max: number): boolean =>
    typeof value === 'string' && value.length > 0 && value.length <= max && !value.includes('\0');
  if (!text(request.id, 256)) throw new TypeError('a request id is a string of 1 to 256 characters without NUL');
  if (!text(request.kind, 200)) throw new TypeError('a request kind is a string of 1 to 200 characters without NUL');
  if (!Number.isSafeInteger(request.shard) || request.shard < 0 || request.shard > 2 ** 31 - 1) {
    throw new TypeError(`invalid shard ${String(request.shard)}`);
  }
}

/**
 * The asker's side of OwnerRequests: records each request, then waits for its
 * answer, told by a notification (`check`) or found by a poll (`checkAll`).
 * A request whose row vanished while someone here still waits (another asker
 * of the id withdrew it) is recorded again.
 */
export class AskWaiters {
  private readonly byId = new Map<string, Set<Waiter>>();
  private readonly toCheck = new Set<string>();
  private checkEverything = false;
  private readonly checker: Coalesced;
  private readonly chains = new Set<Promise<void>>();
  private closed = false;
  private asked = 0;
  private timedOut = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly cluster: string,
    private readonly onError: (error: Error) => void,
    /** A request recorded (or joined) and still pending. */
    private readonly handOver: (request: OwnerRequest) => void,
  ) {
    this.checker = new Coalesced(() => this.checkNow(), onError);
  }

  ask(request: OwnerRequest, timeoutMs: number): Promise<unknown> {
    let body: string | undefined;
    try {
      checkRequest(request);
      body = JSON.stringify(request.body);
    } catch (error) {
      return Promise.reject(asError(error));
    }
    if (body === undefined) return Promise.reject(new TypeError('a request body must be JSON-serialisable'));
    this.asked += 1;
    const { id, shard, kind } = request;
    const json = body;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        request: { id, shard, kind, body: request.body },
        body: json,
        timeoutMs,
        resolve,
        reject,
        timer: undefined,
        chain: Promise.resolve(),
        done: false,
      };
      const waiting = this.byId.get(id) ?? new Set<Waiter>();
      this.byId.set(id, waiting.add(waiter));
      waiter.timer = setTimeout(() => this.expire(waiter), timeoutMs);
      waiter.timer.unref();
      this.enqueue(waiter, () => this.submit(waiter));
    });
  }

  /** Hands an answer (or failure) to everyone here waiting for `id`; a request not answered yet is ignored. */
  settle(id: string, outcome: Outcome): void {
    if (outcome.state !== 'answered' && outcome.state !== 'failed') return;
    for (const waiter of this.byId.get(id) ?? []) {
      if (outcome.state === 'answered') this.finish(waiter, { answer: outcome.answer });
      else this.finish(waiter, { error: new RequestFailed(id, outcome.error) });
    }
  }

  /** A notification said `id` was answered. */
  check(id: string): void {
    if (!this.byId.has(id)) return;
    this.toCheck.add(id);
    this.checker.kick();
  }

  /** Looks at every request waited for. */
  checkAll(): void {
    if (this.byId.size === 0) return;
    this.checkEverything = true;
    this.checker.kick();
  }

  counts(): { asked: number; timedOut: number } {
    return { asked: this.asked, timedOut: this.timedOut };
  }

  /** Rejects every ask still waiting and waits for the statements in flight. */
  async close(): Promise<void> {
    this.closed = true;
    const error = new Error('owner requests closed while the ask waited for an answer');
    for (const waiting of [...this.byId.values()]) for (const waiter of waiting) this.finish(waiter, { error });
    await this.checker.stop();
    while (this.chains.size > 0) await Promise.allSettled([...this.chains]);
  }

  private async checkNow(): Promise<void> {
    const ids = this.checkEverything ? [...this.byId.keys()] : [...this.toCheck].filter((id) => this.byId.has(id));
    this.checkEverything = false;
    this.toCheck.clear();
    if (ids.length === 0 || this.closed) return;
    const found = await outcomes(this.pool, this.cluster, ids);
    for (const id of ids) {
      const outcome = found.get(id);
      if (outcome !== undefined) {
        this.settle(id, outcome);
        continue;
      }
      const [first] = this.byId.get(id) ?? [];
      if (first !== undefined) this.enqueue(first, () => this.submit(first));
    }
  }

  private async submit(waiter: Waiter): Promise<void> {
    let submitted: Awaited<ReturnType<typeof submit>> = null;
    for (let attempt = 0; submitted === null && attempt < 3; attempt += 1) {
      if (waiter.done) return;
      submitted = await submit(this.pool, this.cluster, waiter.request, waiter.body);
    }
    // Withdrawn again and again by other askers of the id: the next poll records it again.
    if (submitted === null) return;
    if (submitted.outcome.state === 'pending') this.handOver(waiter.request);
    else this.settle(waiter.request.id, submitted.outcome);
  }

  /** No answer in time: withdraw the request unless an owner claimed it. */
  private expire(waiter: Waiter): void {
    if (waiter.done) return;
    // Out of the waiting set first: no poll records the request again behind the withdrawal.
    this.detach(waiter);
    const { id } = waiter.request;
    this.enqueue(waiter, async () => {
      let withdrawn = false;
      let outcome: Outcome | undefined;
      try {
        withdrawn = await withdraw(this.pool, this.cluster, id);
        if (!withdrawn) {
          // Not pending any more: answered meanwhile, claimed, or withdrawn by another asker (no row).
          outcome = (await outcomes(this.pool, this.cluster, [id])).get(id);
          withdrawn = outcome === undefined;
        }
      } catch (error) {
        this.onError(asError(error));
      }
      if (outcome?.state === 'answered') return this.finish(waiter, { answer: outcome.answer });
      if (outcome?.state === 'failed') return this.finish(waiter, { error: new RequestFailed(id, outcome.error) });
      this.timedOut += 1;
      this.finish(waiter, { error: new RequestTimedOut(id, waiter.timeoutMs, withdrawn) });
    });
  }

  private enqueue(waiter: Waiter, op: () => Promise<void>): void {
    const chain = waiter.chain.then(op).catch((error: unknown) => this.finish(waiter, { error: asError(error) }));
    waiter.chain = chain;
    this.chains.add(chain);
    void chain.finally(() => this.chains.delete(chain));
  }

  private detach(waiter: Waiter): void {
    const waiting = this.byId.get(waiter.request.id);
    waiting?.delete(waiter);
    if (waiting?.size === 0) this.byId.delete(waiter.request.id);
  }

  private finish(waiter: Waiter, result: { readonly answer: unknown } | { readonly error: Error }): void {
    if (waiter.done) return;
    waiter.done = true;
    clearTimeout(waiter.timer);
    this.detach(waiter);
    if ('error' in result) waiter.reject(result.error);
    else waiter.resolve(result.answer);
  }
}
