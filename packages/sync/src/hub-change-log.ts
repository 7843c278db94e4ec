import type { Sku } from '@shelfsync/protocol';
import type { StorageWrite } from '@shelfsync/storage';

/**
 * A commit refused because another hub node committed a conflicting change
 * first (a writer chain moved on, or a client id went to another writer).
 * Nothing of it was stored, and the log goes on: unlike a failed write, this
 * does not halt the hub. The document it was applied to has been dropped from
 * memory and is read again from the database on its next use; whoever sent
 * the change sends it again after a resync.
 */
export class CommitConflict extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CommitConflict';
  }
}

/**
 * A commit refused because a record it guarded (`GuardedWrite`) no longer
 * holds: another node changed it, or this node's own earlier commit of it
 * landed though its answer was lost. The caller reads the record again.
 */
export class RecordChanged extends CommitConflict {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RecordChanged';
  }
}

/** A change the hub committed: its number, and when (ms since the epoch). */
export interface HubChange {
  readonly seq: number;
  readonly at: number;
}

/** Hears one durable commit: the SKU, its change, and the update committed. */
export type CommitListener = (sku: Sku, change: HubChange, update: Uint8Array) => void;

/**
 * The hub's commit and change log. Every change the hub accepts, a store's
 * update or one of its own writes, is committed here and given the next change
 * number. A store keeps the number up to which it holds every change (its
 * cursor) and sends it in its hello; the hub answers with the SKUs changed after
 * it (`changedSince`) and its own `cursor()`, then relays each later change with
 * its number, so catch-up follows what changed, not the catalog. The store
 * moves its cursor only across consecutive numbers it has received (relayed, or
 * in the acknowledgement of its own), and every store shares the one sequence.
 *
 * `HubStorage` is the in-process implementation and the default: the change
 * records go to the hub's StorageAdapter in the same batch as the update, and
 * the index (each SKU's latest change) and the head are kept in memory, loaded
 * when it opens. Another implementation, such as one in a server database,
 * must keep what stores and sessions rely on:
 *
 * 1. **Durable before it resolves.** `commit` resolves once the update, its
 *    change record and `extra` are stored in one atomic transaction. If that
 *    fails it rejects, and `onFailure` listeners hear it once: the hub halts,
 *    because its documents in memory are ahead of what is stored.
 * 2. **Numbered in commit order.** Within an epoch, change numbers increase in
 *    the order commits are recorded; above all, a SKU's later change has the
 *    higher number, or a store whose cursor lies between them misses it.
 * 3. **Visible in number order.** `onCommit` listeners hear each durable commit
 *    once, in number order, and `cursor()` is the highest number up to which
 *    every commit is durable and announced. A cursor that counted a commit not
 *    yet durable would let a store skip it for good (and a crash could give its
 *    number to another change). Listeners run synchronously and must not throw.
 * 4. **Gapless.** Every number up to `cursor()` belongs to a durable commit. A
 *    gap loses nothing, but every live store's cursor stops below it until the
 *    store reconnects, and a store disconnected meanwhile catches up on all that
 *    changed since. (A failed commit leaves one, and the hub halts with it.)
 *    Database sequences give neither 3 nor 4 on their own: a rolled-back
 *    transaction loses its number, and concurrent transactions become visible
 *    out of number order. Take the number from a counter row in the committing
 *    transaction and announce in number order, as `HubStorage` does (commits
 *    finish out of order; it holds each back until those before it are done).
 * 5. **Never reused.** A number once announced is never given to another change
 *    in the same `epoch`. A log that is lost, or restored from a backup, starts a
 *    new epoch: every store then exchanges every SKU once.
 * 6. **Synchronous reads.** `cursor`, `changedSince`, `changeOf`, `allSkus` and `skuCount`
 *    answer at once: a session computes its welcome in the tick it goes live, so
 *    every commit is either listed in the welcome or relayed after it.
 *    `changedSince(n)` lists every SKU with an announced change after `n`; it may
 *    list more (one needless exchange each), never fewer.
 *
 * `PgChangeLog` (packages/hub-pg) keeps 3 and 4 across several hub processes
 * on one database: a counter row taken in the committing transaction makes
 * commits take turns. A log that could not would need per-store cursors
 * instead (the hub recording what each store holds); see
 * docs/decisions/0019-hub-change-log.md.
 */
export interface HubChangeLog {
  /** This hub's data lineage: change numbers from another epoch mean nothing here. */
  readonly epoch: string;
  /**
   * Makes `update`, already applied to the SKU's document, durable with its
   * change record and `extra` in one atomic batch; resolves, once durable, with
   * the change number. A cluster's log may reject with CommitConflict.
   */
  commit(sku: Sku, update: Uint8Array, extra?: readonly StorageWrite[]): Promise<number>;
  /** The head: the newest change number up to which every change is durable and announced (0 before any). */
  cursor(): number;
  /** The SKUs changed after change number `cursor`: what a store at that cursor must exchange. */
  changedSince(cursor: number): Sku[];
  /** The SKU's latest change, or undefined for a SKU never committed. */
  changeOf(sku: Sku): HubChange | undefined;
  /**
   * Every SKU the hub holds: each SKU a change was committed for. (`HubStorage`
   * counts a SKU from when its first change is numbered, as `changeOf` does.)
   */
  allSkus(): Sku[];
  /** How many SKUs `allSkus` lists, without the list: it grows when a new SKU appears. */
  skuCount(): number;
  /** Calls `listener` after every durable commit, in change-number order; returns the unsubscribe. */
  onCommit(listener: CommitListener): () => void;
  /** Calls `listener` once, when the first commit fails (the hub then halts). */
  onFailure?(listener: (error: Error) => void): void;
}
