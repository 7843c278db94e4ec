/**
 * The hub's change log (`HubChangeLog`, packages/sync/src/hub-change-log.ts)
 * on PostgreSQL, shared by every hub process on one database.
 *
 * **Numbering.** A commit is one transaction: the writer-fence check (when
 * opened with one), the `extra` storage writes, then, in one statement, the
 * next number from the log's counter row (`UPDATE change_heads SET head =
 * head + 1`) and the change row under it. The counter row's lock is held until
 * COMMIT, so the commits of a log take turns: numbers are given in commit
 * order, one that rolls back gives its number back (the next commit takes it),
 * and a number becomes visible only after every number below it. A database
 * sequence would give none of that.
 *
 * **Announcing.** Each instance follows the log (change-feed.ts): it reads the
 * changes above its cursor, in number order, when a notification arrives, on a
 * poll, after its LISTEN connection (re)connects, and right after its own
 * commits. `onCommit` listeners hear every change of every instance once, in
 * number order; the index behind the synchronous reads and `cursor()` advance
 * with them, over consecutive numbers only. Notifications are sent after
 * COMMIT, best effort, never inside the transaction: a full notification queue
 * would fail the commit. A lost one delays a change until the next poll (or
 * this instance's next commit). `open` resolves once the instance listens and
 * has read the log up to then.
 *
 * **Where it differs from HubStorage.** `commit` resolves once COMMIT is
 * acknowledged *and* this instance has announced the change, so its listeners
 * have heard it and `cursor()` counts it (HubStorage does the same unless an
 * earlier commit is still pending). If the database goes away between the two,
 * it resolves when the feed reads again, or at `close`. The index learns a
 * change when it is announced, not when it is numbered: a SKU's first commit
 * shows in `allSkus` and `changeOf` only once durable, and another process's
 * commit once this one has read it. The epoch is created with the counter row
 * on a database's first open and never changes; a log restored from a backup
 * must be given a new one by hand. A LISTEN connection that dies without the
 * server or the socket telling (no keepalive is set) is not replaced: only
 * polling then delivers other processes' changes.
 */
import { SkuSchema, type Sku } from '@shelfsync/protocol';
import { StorageWriteError, type StorageWrite } from '@shelfsync/storage';
import {
  applyWrites,
  FencedOut,
  HeldPool,
  assertIdentifier,
  assertNamespace,
  inTransaction,
  isEmptyWrites,
  migrate,
  prepareWrites,
  storageMigrations,
  TransactionError,
} from '@shelfsync/storage-pg';
import { CommitConflict, type CommitListener, type HubChange, type HubChangeLog } from '@shelfsync/sync';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { ChangeFeed } from './change-feed.js';
import type { ChangeListener, CommitChecks, PgChangeLogOptions } from './change-log-options.js';
import { ChangeIndex } from './change-index.js';
import { appendChange, ensureHead, latestChanges, type ChangeRow } from './change-rows.js';
import { checkGuards } from './write-guards.js';

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

export class PgChangeLog implements HubChangeLog {
  private closed = false;
  private closing: Promise<void> | null = null;
  /** Commits whose transaction has not ended yet. */
  private readonly transactions = new Set<Promise<unknown>>();
  /** Commits not settled yet (their transaction, then the announcement). */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly commitListeners = new Set<CommitListener>();
  private readonly changeListeners = new Set<ChangeListener>();
  /** This instance's name in the rows it commits. */
  readonly node: string;
  private readonly failureListeners = new Set<(error: Error) => void>();
  private failure: Error | null = null;
  /** Own commits that are durable and wait for the feed to announce them. */
  private readonly announced = new Map<number, () => void>();
  private readonly feed: ChangeFeed;

  private readonly pool: pg.Pool;

  private constructor(
    private readonly held: HeldPool,
    private readonly log: string,
    readonly epoch: string,
    private readonly index: ChangeIndex,
    private readonly options: PgChangeLogOptions,
  ) {
    this.pool = held.pool;
    this.node = options.node ?? randomUUID();
    this.feed = new ChangeFeed(
      held.pool,
      log,
      `shelfsync_changes_${log}`,
      index.cursor(),
      (row) => this.announce(row),
      {
        pollIntervalMs: options.pollIntervalMs ?? 500,
        batchSize: options.batchSize ?? 500,
        retryMinMs: options.retryMinMs ?? 50,
        retryMaxMs: options.retryMaxMs ?? 2_000,
        onError: (error) => options.onError?.(error),
      },
    );
  }

  /**
   * Opens the log on `database` (a pool the caller keeps and ends after
   * `close`, or a connection string for a pool of its own): migrates the schema,
   * creates the log with a new epoch if it has none, and loads the index.
   */
  static async open(database: pg.Pool | string, options: PgChangeLogOptions): Promise<PgChangeLog> {
    assertNamespace(options.namespace);
    const log = options.log ?? 'hub';
    // The log names a notification channel; the prefix keeps it within 63 bytes.
    assertIdentifier('change log name', log);
    if (log.length > 40) throw new TypeError(`change log name ${JSON.stringify(log)} is longer than 40`);
    const held = HeldPool.hold(database, options.maxConnections ?? 4, (error) => options.onError?.(error));
    const pool = held.pool;
    try {
      await migrate(pool, storageMigrations);
      const { epoch, head } = await ensureHead(pool, log, randomUUID());
      const index = new ChangeIndex(await latestChanges(pool, log, head), head);
      const opened = new PgChangeLog(held, log, epoch, index, options);
      // Listening before it resolves: every later commit, of any process, notifies this one.
      await opened.feed.start();
      return opened;
    } catch (error) {
      await held.release();
      throw error;
    }
  }

  /**
   * Commits the change and `extra` in one transaction and resolves with its
   * number once COMMIT is acknowledged and the change announced. Rejects with a
   * StorageWriteError saying whether it may have been recorded.
   */
  commit(
    sku: Sku,
    update: Uint8Array,
    extra: readonly StorageWrite[] = [],
    checks: CommitChecks = {},
  ): Promise<number> {
    if (this.closed) return Promise.reject(new Error('the change log is closed'));
    const run = this.run(sku, Uint8Array.from(update), extra, checks);
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run)).catch(() => undefined);
    return run;
  }

  private async run(
    sku: Sku,
    update: Uint8Array,
    extra: readonly StorageWrite[],
    checks: CommitChecks,
  ): Promise<number> {
    let seq: number;
    let at: number;
    try {
      SkuSchema.parse(sku); // a row the feed could not parse would stop every follower
      const writes = prepareWrites(extra);
      at = (this.options.now ?? Date.now)();
      const transaction = inTransaction(this.pool, async (client) => {
        await this.options.fence?.check(client);
        await checks.check?.(client);
        await checkGuards(client, this.options.namespace, extra);
        if (!isEmptyWrites(writes)) await applyWrites(client, this.options.namespace, writes);
        // Numbered last: the counter row stays locked, and other commits wait, only until COMMIT.
        return appendChange(client, this.log, sku, at, update, { node: this.node, claims: checks.claims ?? [] });
      });
      this.transactions.add(transaction);
      void transaction.then(
        () => this.transactions.delete(transaction),
        () => this.transactions.delete(transaction),
      );
      seq = await transaction;
    } catch (error) {
      // Refused by the cluster's checks: nothing is stored and the log is sound.
      if (error instanceof TransactionError && error.cause instanceof CommitConflict) throw error.cause;
      const failure =
        error instanceof TransactionError
          ? new StorageWriteError(error.message, error.committed, { cause: error })
          : new StorageWriteError(`commit refused: ${asError(error).message}`, 'no', { cause: error });
      // A recoverable log's caller reads its documents again from the database; a fenced-out writer stops for good.
      const fencedOut = error instanceof TransactionError && error.cause instanceof FencedOut;
      if (this.options.recoverable !== true || fencedOut) this.fail(failure);
      throw failure;
    }
    this.feed.notify(seq);
    // The next number: announced from what was committed, without reading it back.
    this.feed.offer({ sku, change: { seq, at }, update, node: this.node, claims: checks.claims ?? [] });
    if (this.index.cursor() < seq) {
      const heard = new Promise<void>((resolve) => this.announced.set(seq, resolve));
      this.feed.kick();
      await heard;
    }
    return seq;
  }

  /** The feed's delivery: index, cursor, listeners, then the commit waiting for it. */
  private announce(row: ChangeRow): void {
    const { sku, change, update } = row;
    this.index.add(sku, change);
    const own = row.node === this.node;
    for (const listener of this.changeListeners) {
      try {
        listener(row, own);
      } catch (error) {
        this.options.onError?.(asError(error));
      }
    }
    for (const listener of this.commitListeners) {
      try {
        listener(sku, change, update);
      } catch (error) {
        // Listeners must not throw; one that does must not stop the feed or the others.
        this.options.onError?.(asError(error));
      }
    }
    const waiting = this.announced.get(change.seq);
    if (waiting !== undefined) {
      this.announced.delete(change.seq);
      waiting();
    }
  }

  private fail(error: Error): void {
    if (this.failure !== null) return;
    this.failure = error;
    for (const listener of this.failureListeners) {
      try {
        listener(error);
      } catch {
        // A listener's own failure must not stop the others.
      }
    }
  }

  /** The first failed commit, or null. */
  get failed(): Error | null {
    return this.failure;
  }

  cursor(): number {
    return this.index.cursor();
  }

  changedSince(cursor: number): Sku[] {
    return this.index.changedSince(cursor);
  }

  changeOf(sku: Sku): HubChange | undefined {
    return this.index.changeOf(sku);
  }

  allSkus(): Sku[] {
    return this.index.allSkus();
  }

  skuCount(): number {
    return this.index.skuCount();
  }

  onCommit(listener: CommitListener): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  onFailure(listener: (error: Error) => void): void {
    this.failureListeners.add(listener);
  }

  /**
   * Calls `listener` with every announced change and whether this instance
   * committed it, before the `onCommit` listeners; returns the unsubscribe.
   */
  onChange(listener: ChangeListener): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** The pool the log commits on (the cluster's documents read through it too). */
  get database(): pg.Pool {
    return this.pool;
  }

  /**
   * Refuses new commits, waits for those in flight, stops following the log.
   * A commit that is durable but not yet announced (the database went away
   * between its COMMIT and the read) resolves with its number: it is stored.
   */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= (async () => {
      const settle = (runs: Iterable<Promise<unknown>>): Promise<unknown> =>
        Promise.all([...runs].map((run) => run.catch(() => undefined)));
      await settle(this.transactions);
      // One last read announces the commits just made; then nothing waits on a feed that may not read.
      await this.feed.drain();
      await this.feed.stop();
      for (const resolve of this.announced.values()) resolve();
      this.announced.clear();
      await settle(this.inFlight);
      await this.held.release();
    })();
    return this.closing;
  }
}
