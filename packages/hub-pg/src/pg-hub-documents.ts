import type { Sku, WriterKey } from '@shelfsync/protocol';
import type { StorageWrite } from '@shelfsync/storage';
import {
  ClientRegistry,
  CommitConflict,
  KeyedSerializer,
  randomClientId,
  RegistryWriterClients,
  type CommitListener,
  type HubChange,
  type HubDocumentStore,
  type HubWriterClients,
  type PinnedDoc,
  type ResidencyOptions,
} from '@shelfsync/sync';
import { updateClients } from '@shelfsync/core';
import type pg from 'pg';
import type * as Y from 'yjs';
import type { ChangeListener } from './change-log-options.js';
import type { ChangeRow } from './change-rows.js';
import { ClusterDocs } from './cluster-docs.js';
import { advanceHeads, claimClients, loadClaims } from './commit-checks.js';
import { writeSnapshot } from './doc-snapshots.js';
import { clusterOwnId, ensureIdentity, type HubIdentity } from './hub-identity.js';
import { LeaseLost } from './lease-errors.js';
import {
  NotShardOwner,
  type ForeignChangeListener,
  type PgHubDocumentsOptions,
  type ShardOwnership,
} from './hub-documents-options.js';
import { PgChangeLog } from './pg-change-log.js';

/**
 * The hub's documents and change log on PostgreSQL (`HubDocuments`), shared by
 * every hub node on one database. Each node keeps the documents it uses in
 * memory, read from the log, and applies every change the others commit as
 * the log's feed announces it. Each node judges a store's update on its own
 * copy, as a single hub does; what a copy cannot see (another node's commit
 * not yet heard) is checked in the committing transaction:
 *
 * - **Client ids.** The ids a commit reserves are inserted in the registry
 *   table; one held by another writer refuses the commit. The hub's own key ids
 *   are derived from the cluster's identity, the same on every node.
 * - **One chain per id.** Each writer chain's head per document must be where
 *   the update starts (`advanceHeads`), so two nodes never commit different
 *   structs under one id and clock, and a copy that missed a change cannot
 *   commit on top of the gap.
 *
 * A refused commit rejects with CommitConflict: nothing is stored, its
 * reservations are given back, and the document leaves memory (it holds the
 * refused change); the next use reads it again. A commit the database did not
 * take, or did not answer, is handled the same way (rejecting with the
 * StorageWriteError): the node does not halt, since what the database holds is
 * the truth it reads again; it stops acknowledging while its database is away,
 * and goes on when it is back. Commits of one SKU on one node
 * are made one after another, in the order they were applied, since each
 * starts where the last one ended.
 */
export class PgHubDocuments implements HubDocumentStore {
  private readonly docs: ClusterDocs;
  /** The hub's own writes of each SKU, and durable reads of it, one at a time in call order. */
  private readonly oneAtATimePerSku = new KeyedSerializer<Sku>();
  /** Commits of each SKU, one at a time: each starts where the last one's chains ended. */
  private readonly commitsPerSku = new KeyedSerializer<Sku>();
  private readonly foreignListeners = new Set<ForeignChangeListener>();
  /** Other nodes' changes, handed to the listeners in log order (a document may have to be read first). */
  private foreign: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly counts = { conflicts: 0, leaseRefusals: 0, failures: 0 };
  /** Snapshots being written, by SKU (one at a time each). */
  private readonly compacting = new Map<Sku, Promise<void>>();
  readonly writerClients: HubWriterClients;

  private constructor(
    private readonly log: PgChangeLog,
    private readonly logName: string,
    readonly identity: HubIdentity,
    private readonly registry: ClientRegistry,
    residency: ResidencyOptions,
    private readonly ownership: ShardOwnership | undefined,
    private readonly compactEvery: number,
    private readonly onError: (error: Error) => void,
  ) {
    this.docs = new ClusterDocs(log.database, logName, identity.neutralClientId, residency);
    this.writerClients = new RegistryWriterClients(registry, identity.clientId, identity.neutralClientId, (key) =>
      clusterOwnId(identity, key),
    );
    log.onChange((row, own) => {
      // Own changes too: a commit may have been applied to a copy a conflict dropped since.
      if (own) {
        // A commit whose COMMIT went unanswered gave its reservations back; landed, they are learned here.
        for (const claim of row.claims) this.registry.learn(claim);
        this.docs.heard(row, true);
      } else this.heard(row);
    });
  }

  static async open(database: pg.Pool | string, options: PgHubDocumentsOptions): Promise<PgHubDocuments> {
    const logName = options.log ?? 'hub';
    const log = await PgChangeLog.open(database, { ...options, recoverable: true });
    try {
      const identity = await ensureIdentity(log.database, logName, randomClientId);
      // Read after the log opened: a reservation committed since is in the table, or in a change still to come.
      const registry = ClientRegistry.detached(await loadClaims(log.database, logName));
      return new PgHubDocuments(
        log,
        logName,
        identity,
        registry,
        options.residency ?? {},
        options.ownership,
        options.compactEvery ?? 200,
        (error) => options.onError?.(error),
      );
    } catch (error) {
      await log.close();
      throw error;
    }
  }

  get epoch(): string {
    return this.log.epoch;
  }

  /** This node's name in the changes it commits. */
  get node(): string {
    return this.log.node;
  }

  open(sku: Sku): Promise<Y.Doc> {
    return this.docs.open(sku);
  }

  /** The SKU's document, kept in memory until released (for live readers that subscribe to it). */
  pin(sku: Sku): Promise<PinnedDoc> {
    return this.docs.pin(sku);
  }

  evictIdle(): number {
    return this.docs.evictIdle();
  }

  residencyStats(): { resident: number; evictions: number } {
    return this.docs.residencyStats();
  }

  commit(sku: Sku, update: Uint8Array, extra: readonly StorageWrite[] = []): Promise<number> {
    const { claims, rest } = ClientRegistry.claimsIn(extra);
    const settled = this.docs.writing(sku);
    const copy = Uint8Array.from(update);
    // The hub's own ids in it: a hub write, which only the shard's owner commits.
    const fenced = this.ownership !== undefined && this.writesAsHub(copy) ? this.ownership : undefined;
    const run = this.commitsPerSku.run(sku, () =>
      this.log.commit(sku, copy, rest, {
        claims,
        check: async (client) => {
          await fenced?.check(client, fenced.shardOf(sku));
          await claimClients(client, this.logName, claims);
          await advanceHeads(client, this.logName, sku, copy);
        },
      }),
    );
    return run.then(
      (change) => {
        settled();
        // Its reservations were learned as its change was announced, before this.
        const counted = this.docs.committed(sku);
        if (counted >= this.compactEvery) this.compact(sku, counted);
        return change;
      },
      (error: unknown) => {
        settled();
        if (error instanceof CommitConflict) {
          if (fenced !== undefined && error instanceof LeaseLost) this.counts.leaseRefusals++;
          else this.counts.conflicts++;
        } else this.counts.failures++;
        // Refused, or not stored (or unknown): the copy holds what the database may not. What the
        // database holds is read again, the refused change not in it, an unanswered COMMIT as it landed.
        this.registry.abandon(extra);
        this.docs.drop(sku);
        throw error;
      },
    );
  }

  clientOwner(client: number): WriterKey | undefined {
    return this.registry.owner(client);
  }

  reserveClients(writer: WriterKey, clients: readonly number[]): StorageWrite[] | string {
    return this.registry.reserve(writer, clients);
  }

  /**
   * Runs `write` in the SKU's hub write order; refused at once (NotShardOwner)
   * on a node that does not own the SKU's shard, and checked again in the
   * commit's transaction, since the lease may move while it runs.
   */
  hubWrite<T>(sku: Sku, write: () => T | Promise<T>): Promise<T> {
    return this.oneAtATimePerSku.run(sku, () => {
      const shard = this.ownership?.shardOf(sku);
      if (shard !== undefined && this.ownership?.owns(shard) !== true) throw new NotShardOwner(sku, shard);
      return write();
    });
  }

  /**
   * Commits the database refused: `conflicts` (another node's change came
   * first: a writer chain or a client id) and `leaseRefusals` (a hub write
   * whose shard lease had moved), and `failures` (the database did not take
   * the commit, or did not answer it).
   */
  stats(): { conflicts: number; leaseRefusals: number; failures: number } {
    return { ...this.counts };
  }

  /** Whether this node may perform the hub's writes of `sku` now. */
  ownsSku(sku: Sku): boolean {
    return this.ownership === undefined || this.ownership.owns(this.ownership.shardOf(sku));
  }

  /**
   * The shard's lease is gone: every document of it leaves memory, since one
   * may hold a hub write whose commit the new owner's epoch refuses.
   */
  leaseLost(shard: number): void {
    const ownership = this.ownership;
    if (ownership === undefined) return;
    this.docs.dropWhere((sku) => ownership.shardOf(sku) === shard);
  }

  /** Writes the SKU's snapshot in the background (loads read it and the changes after it). */
  private compact(sku: Sku, counted: number): void {
    if (this.closed || this.compacting.has(sku)) return;
    const run = writeSnapshot(this.log.database, this.logName, sku)
      .then(
        () => this.docs.compacted(sku, counted),
        (error: unknown) => this.onError(error instanceof Error ? error : new Error(String(error))),
      )
      .finally(() => this.compacting.delete(sku));
    this.compacting.set(sku, run);
  }

  private writesAsHub(update: Uint8Array): boolean {
    for (const client of updateClients(update)) {
      const owner = this.registry.owner(client);
      if (owner !== undefined && !owner.startsWith('store:')) return true;
    }
    return false;
  }

  /** In the SKU's hub write order, on any node: a read needs no lease. */
  readDurable<T>(sku: Sku, read: () => T): Promise<T> {
    return this.oneAtATimePerSku.run(sku, () => {
      const failed = this.log.failed;
      if (failed !== null) throw failed;
      return read();
    });
  }

  /**
   * Calls `listener` with each change another node commits, in log order, once
   * this node's document holds it; returns the unsubscribe. (This node's own
   * commits are relayed by whoever committed them.)
   */
  onForeignChange(listener: ForeignChangeListener): () => void {
    this.foreignListeners.add(listener);
    return () => this.foreignListeners.delete(listener);
  }

  /**
   * Resolves true once change `seq` has reached this node and been relayed to
   * its stores (with every change before it); false after `waitMs`. A node
   * that passes on another node's answer about a change (a top-up's grant)
   * waits for this first, so its stores hold the change when the answer comes.
   */
  async relayedThrough(seq: number, waitMs: number): Promise<boolean> {
    if (this.log.cursor() < seq) {
      const reached = await new Promise<boolean>((resolve) => {
        const done = (value: boolean): void => {
          clearTimeout(timer);
          stop();
          resolve(value);
        };
        const timer = setTimeout(() => done(false), waitMs);
        const stop = this.log.onCommit(() => {
          if (this.log.cursor() >= seq) done(true);
        });
        if (this.log.cursor() >= seq) done(true);
      });
      if (!reached) return false;
    }
    // The relay of every change heard so far is queued on this chain.
    await this.foreign;
    return true;
  }

  /**
   * Calls `listener` with each change as the feed delivers it (this node's
   * copies in memory already hold it) and whether this node committed it;
   * returns the unsubscribe. Synchronous, and reads no document: for
   * measurements such as the feed's lag.
   */
  onFeed(listener: ChangeListener): () => void {
    return this.log.onChange(listener);
  }

  /** Another node's change: the registry and any copy in memory learn it now, the listeners in order after. */
  private heard(row: ChangeRow): void {
    for (const claim of row.claims) this.registry.learn(claim);
    this.docs.heard(row);
    if (this.foreignListeners.size === 0) return;
    this.foreign = this.foreign.then(async () => {
      try {
        const doc = this.docs.loaded(row.sku) ?? (await this.docs.open(row.sku));
        for (const listener of this.foreignListeners) listener(row.sku, row.update, row.change.seq, doc);
      } catch (error) {
        this.onError(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  cursor(): number {
    return this.log.cursor();
  }

  changedSince(cursor: number): Sku[] {
    return this.log.changedSince(cursor);
  }

  changeOf(sku: Sku): HubChange | undefined {
    return this.log.changeOf(sku);
  }

  allSkus(): Sku[] {
    return this.log.allSkus();
  }

  skuCount(): number {
    return this.log.skuCount();
  }

  onCommit(listener: CommitListener): () => void {
    return this.log.onCommit(listener);
  }

  onFailure(listener: (error: Error) => void): void {
    this.log.onFailure(listener);
  }

  /** Why a commit failed (the node must stop serving: its memory may be ahead of the database), or null. */
  get failed(): Error | null {
    return this.log.failed;
  }

  /** Waits for commits in flight and the changes heard, then stops following the log. */
  async close(): Promise<void> {
    this.closed = true;
    // Before the log releases the pool they write on.
    await Promise.all(this.compacting.values());
    await this.log.close();
    await this.foreign;
  }
}
