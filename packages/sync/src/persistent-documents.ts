import { SkuSchema, type Sku, type WriterKey } from '@shelfsync/protocol';
import { DocStore, RecordStore, StorageWriteError, type StorageAdapter, type StorageWrite } from '@shelfsync/storage';
import { createSkuDoc, heldClientOwners } from '@shelfsync/core';
import type * as Y from 'yjs';
import * as YCodec from 'yjs';
import { z } from 'zod';
import { ClientRegistry } from './client-registry.js';
import { KeyedSerializer } from './keyed-serializer.js';

/** Set once the ids in documents written before the client-id registry are recorded in it. */
const CLIENTS_ADOPTED = ['hub', 'clients-adopted'];
import type { HubDocuments } from './hub-sync.js';
import type { StoreDocuments } from './store-sync.js';

/** Transaction origin of updates loaded from storage or received from a peer: not local changes. */
export const REMOTE_ORIGIN = Symbol('shelfsync.remote');

const DIRTY = 'dirty';

/** How a process keeps SKU documents in memory. */
export interface ResidencyOptions {
  /**
   * A document nobody has used for this long, and with nothing of it still being
   * written, is dropped from memory; its next use loads it again from storage.
   * Undefined keeps every document resident (a store's working set is its own catalog).
   */
  readonly evictIdleAfterMs?: number;
  /** Above this many resident documents, the least recently used evictable ones go even before they idle out. */
  readonly maxResidentDocs?: number;
  readonly now?: () => number;
}

interface PersistedDocsOptions extends ResidencyOptions {
  /**
   * The Yjs client id every document of this process writes with, kept across
   * restarts (see docs/durability.md, Client ids). Undefined: Yjs picks one per document.
   */
  readonly clientId?: number;
}

/** Never evict a document used more recently than this: a caller may hold it between two awaits. */
const MIN_IDLE_MS = 1_000;

interface Resident {
  readonly doc: Promise<Y.Doc>;
  loaded: Y.Doc | null;
  lastUsed: number;
  /** Long-lived holders (live readers) that must keep seeing this very instance. */
  pins: number;
  /** Appends (and compactions) of this SKU not finished yet. */
  writing: number;
}

/** A document held until `release` is called: it will not be evicted meanwhile. */
export interface PinnedDoc {
  readonly doc: Y.Doc;
  release(): void;
}

/**
 * SKU documents kept in memory and persisted through a StorageAdapter: every
 * update is appended before it counts as done, and each SKU is compacted into a
 * snapshot once enough updates have piled up. With `evictIdleAfterMs`, idle
 * documents leave memory, but only once everything written to them is stored
 * (eviction without persistence would lose updates).
 */
class PersistedDocs {
  readonly docStore: DocStore;
  /** Map order is least recently used first. */
  private readonly resident = new Map<Sku, Resident>();
  private readonly now: () => number;
  private evictions = 0;

  constructor(
    readonly adapter: StorageAdapter,
    private readonly residency: PersistedDocsOptions = {},
  ) {
    this.docStore = new DocStore(adapter);
    this.now = residency.now ?? Date.now;
  }

  open(sku: Sku): Promise<Y.Doc> {
    return this.touch(sku).doc;
  }

  async pin(sku: Sku): Promise<PinnedDoc> {
    const entry = this.touch(sku);
    entry.pins++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      entry.pins--;
      entry.lastUsed = this.now();
    };
    try {
      return { doc: await entry.doc, release };
    } catch (error) {
      release();
      throw error;
    }
  }

  /**
   * Stores an update already applied to the SKU's open document, in one atomic
   * batch with `extra` writes, and compacts the SKU when due.
   */
  async append(sku: Sku, update: Uint8Array, extra: readonly StorageWrite[] = []): Promise<void> {
    // Counted before the first await, so the document cannot be evicted with this update unstored.
    const entry = this.touch(sku);
    entry.writing++;
    try {
      await this.adapter.writeBatch([...extra, await this.docStore.prepareAppend(sku, update)]);
      // Not while another update of this SKU is being written: the compacted
      // document would hold it, on disk before (and even if not) its own batch.
      if (entry.writing === 1 && this.docStore.needsCompaction(sku)) {
        try {
          await this.docStore.compact(sku, await entry.doc);
        } catch (error) {
          // The update itself is durable; only the tidying after it failed.
          throw new StorageWriteError(`compacting ${sku} failed after its update was stored: ${String(error)}`, 'yes', {
            cause: error,
          });
        }
      }
    } finally {
      entry.writing--;
      entry.lastUsed = this.now();
    }
  }

  async storedSkus(): Promise<Sku[]> {
    return (await this.docStore.skus()).filter((sku): sku is Sku => SkuSchema.safeParse(sku).success);
  }

  /** Drops idle, fully stored documents from memory; returns how many went. */
  evictIdle(): number {
    const idleAfter = this.residency.evictIdleAfterMs;
    if (idleAfter === undefined) return 0;
    const now = this.now();
    const max = this.residency.maxResidentDocs ?? Number.POSITIVE_INFINITY;
    let evicted = 0;
    for (const [sku, entry] of this.resident) {
      if (entry.loaded === null || entry.pins > 0 || entry.writing > 0) continue;
      const idle = now - entry.lastUsed;
      const over = this.resident.size > max;
      if (idle >= Math.max(idleAfter, MIN_IDLE_MS) || (over && idle >= MIN_IDLE_MS)) {
        this.resident.delete(sku);
        this.docStore.forget(sku);
        entry.loaded.destroy();
        evicted++;
      }
    }
    this.evictions += evicted;
    return evicted;
  }

  /** Documents in memory now, and evictions since start. */
  residencyStats(): { resident: number; evictions: number } {
    return { resident: this.resident.size, evictions: this.evictions };
  }

  private touch(sku: Sku): Resident {
    let entry = this.resident.get(sku);
    if (entry === undefined) {
      const doc = (async () => {
        const loaded = createSkuDoc();
        await this.docStore.load(sku, loaded);
        // Set after loading: Yjs gives a document a new client id when a remote
        // (non-local) transaction, such as this load, adds structs under its current one.
        if (this.residency.clientId !== undefined) loaded.clientID = this.residency.clientId;
        return loaded;
      })();
      const created: Resident = { doc, loaded: null, lastUsed: this.now(), pins: 0, writing: 0 };
      doc.then(
        (loaded) => {
          created.loaded = loaded;
        },
        () => {
          // A failed load is not cached: the next use tries again.
          if (this.resident.get(sku) === created) this.resident.delete(sku);
        },
      );
      entry = created;
    } else {
      this.resident.delete(sku);
      entry.lastUsed = this.now();
    }
    this.resident.set(sku, entry);
    return entry;
  }
}

/** Yjs client ids are unsigned 32-bit integers (as Yjs generates them). */
const ClientIdSchema = z.int().min(0).max(0xffff_ffff);
const HubMetaSchema = z.strictObject({
  epoch: z.string(),
  cursor: z.int().min(0),
  // Absent in data written before client ids were kept; one is added on open.
  clientId: ClientIdSchema.optional(),
});
const ChangeSchema = z.strictObject({ seq: z.int().min(1), at: z.int().min(0) });
/** A change the hub committed: its number and when (ms since the epoch). */
type Change = z.infer<typeof ChangeSchema>;
/** A committed change, with the SKU and the update it made. */
type Committed = { sku: Sku; change: Change; update: Uint8Array };

/**
 * The hub's documents and change log, persisted through a StorageAdapter.
 * Each commit takes the next change number; `changedSince` answers which SKUs a
 * reconnecting store must exchange, so catch-up follows what changed.
 */
export class HubStorage implements HubDocuments {
  private readonly docs: PersistedDocs;
  private readonly records: RecordStore;
  /** SKU -> its latest change; Map order is ascending change number. */
  private readonly changes = new Map<Sku, Change>();
  private current = 0;
  /** Every SKU in sorted order, rebuilt only when a new SKU appears (for stable listings). */
  private sorted: Sku[] | null = null;
  private readonly commitListeners = new Set<(sku: Sku, change: Change, update: Uint8Array) => void>();
  /** The hub's own writes of each SKU, and durable reads of it, one at a time in call order. */
  private readonly oneAtATimePerSku = new KeyedSerializer<Sku>();
  private failure: Error | null = null;
  /** Shutting down: a commit the closing adapter refuses is not a storage failure. */
  private closing = false;
  private readonly failureListeners = new Set<(error: Error) => void>();
  /** Commits finish out of order; listeners hear them in change order, so "after change N" means what it says. */
  private notified = 0;
  private readonly finished = new Map<number, Committed | null>();

  private constructor(
    adapter: StorageAdapter,
    readonly epoch: string,
    private readonly clientId: number,
    private readonly clients: ClientRegistry,
    private readonly now: () => number,
    residency: ResidencyOptions,
  ) {
    this.docs = new PersistedDocs(adapter, { now, ...residency, clientId });
    this.records = new RecordStore(adapter);
  }

  /** Opens the hub's storage, creating a new epoch for an empty one. */
  static async open(
    adapter: StorageAdapter,
    newEpoch: () => string,
    now: () => number = Date.now,
    residency: ResidencyOptions = {},
    newClientId: () => number = randomClientId,
  ): Promise<HubStorage> {
    const records = new RecordStore(adapter);
    const stored = await records.get(['hub', 'meta'], HubMetaSchema);
    const clients = await ClientRegistry.load(adapter);
    let clientId = stored?.clientId;
    // A new id must not be one a store already holds (data from before the hub kept its id).
    while (clientId === undefined || (stored?.clientId === undefined && clients.owner(clientId) !== undefined)) {
      clientId = newClientId();
    }
    const meta = { epoch: stored?.epoch ?? newEpoch(), cursor: stored?.cursor ?? 0, clientId };
    if (stored?.clientId === undefined) await records.put(['hub', 'meta'], meta);
    // Before any store's update is judged: no store may ever write under the hub's id.
    await clients.reserveHub(clientId);
    const storage = new HubStorage(adapter, meta.epoch, meta.clientId, clients, now, residency);
    const entries: [Sku, Change][] = [];
    for (const chunk of await adapter.loadRange(['hub', 'change'])) {
      const sku = SkuSchema.safeParse(chunk.key[2]);
      const change = ChangeSchema.safeParse(JSON.parse(new TextDecoder().decode(chunk.data)));
      if (sku.success && change.success) entries.push([sku.data, change.data]);
    }
    entries.sort((a, b) => a[1].seq - b[1].seq);
    for (const [sku, change] of entries) storage.changes.set(sku, change);
    storage.current = Math.max(meta.cursor, entries.at(-1)?.[1].seq ?? 0);
    storage.notified = storage.current;
    await storage.adoptHeldClients(records);
    return storage;
  }

  /**
   * Data written before the hub kept its client-id registry: once, before any
   * store's update is judged, record who wrote each id its documents hold, or a
   * store could claim another's id in a SKU the other never touched and lock it
   * out of every SKU. (Every document is read once; the mark keeps it from
   * happening again.)
   */
  private async adoptHeldClients(records: RecordStore): Promise<void> {
    if ((await records.get(CLIENTS_ADOPTED, z.literal(true).optional().catch(undefined))) === true) return;
    const owners = new Map<number, WriterKey>();
    for (const sku of this.allSkus()) {
      for (const [client, writer] of heldClientOwners(await this.open(sku))) {
        if (!owners.has(client)) owners.set(client, writer);
      }
    }
    await this.clients.adopt(owners);
    await records.put(CLIENTS_ADOPTED, true);
  }

  open(sku: Sku): Promise<Y.Doc> {
    return this.docs.open(sku);
  }

  /** The SKU's document, kept in memory until released (for live readers that subscribe to it). */
  pin(sku: Sku): Promise<PinnedDoc> {
    return this.docs.pin(sku);
  }

  /** Drops idle documents whose every update is stored; returns how many went. */
  evictIdle(): number {
    return this.docs.evictIdle();
  }

  residencyStats(): { resident: number; evictions: number } {
    return this.docs.residencyStats();
  }

  async commit(sku: Sku, update: Uint8Array, extra: readonly StorageWrite[] = []): Promise<number> {
    const change = { seq: ++this.current, at: this.now() };
    if (!this.changes.delete(sku)) this.sorted = null;
    this.changes.set(sku, change);
    // One atomic batch: the update, the change record that tells stores to fetch
    // it, and whatever the change means beyond the document (a reservation).
    try {
      await this.docs.append(sku, update, [...extra, this.records.putWrite(['hub', 'change', sku], change)]);
      this.clients.committed(extra);
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)));
      this.finish(change.seq, null);
      throw error;
    }
    this.finish(change.seq, { sku, change, update });
    return change.seq;
  }

  clientOwner(client: number): WriterKey | undefined {
    return this.clients.owner(client);
  }

  reserveClients(writer: WriterKey, clients: readonly number[]): StorageWrite[] | string {
    return this.clients.reserve(writer, clients);
  }

  /** The Yjs client id every document of this hub writes with. */
  get hubClientId(): number {
    return this.clientId;
  }

  /** Runs `write` after every hub write and durable read of `sku` queued before it, whatever their outcome. */
  hubWrite<T>(sku: Sku, write: () => T | Promise<T>): Promise<T> {
    return this.oneAtATimePerSku.run(sku, write);
  }

  readDurable<T>(sku: Sku, read: () => T): Promise<T> {
    return this.hubWrite(sku, () => {
      if (this.failure !== null) throw this.failure;
      return read();
    });
  }

  /** Why a commit failed (the hub must stop: memory is ahead of the disk), or null. */
  get failed(): Error | null {
    return this.failure;
  }

  /** Calls `listener` once, when the first commit fails. */
  onFailure(listener: (error: Error) => void): void {
    this.failureListeners.add(listener);
  }

  private fail(error: Error): void {
    if (this.failure !== null || this.closing) return;
    this.failure = error;
    for (const listener of this.failureListeners) {
      try {
        listener(error);
      } catch {
        // A listener's own failure must not stop the others, or the commit log.
      }
    }
  }

  /**
   * The newest change number below which every change is durable. Stores keep it
   * as their catch-up point, so it never counts a change a crash could take back:
   * the number would be given to another change after the restart.
   */
  cursor(): number {
    return this.notified;
  }

  changedSince(cursor: number): Sku[] {
    const changed: Sku[] = [];
    for (const [sku, change] of this.changes) if (change.seq > cursor) changed.push(sku);
    return changed;
  }

  allSkus(): Sku[] {
    return [...this.changes.keys()];
  }

  /** The SKU's latest change (number and time), or undefined for a SKU never written. */
  changeOf(sku: Sku): Change | undefined {
    return this.changes.get(sku);
  }

  /** Up to `limit` SKUs after `after` in sorted order (from the first without it): a stable walk of the catalog. */
  skusAfter(after: Sku | null, limit: number): Sku[] {
    this.sorted ??= [...this.changes.keys()].sort();
    const all = this.sorted;
    let lo = 0;
    if (after !== null) {
      let hi = all.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((all[mid] ?? '') <= after) lo = mid + 1;
        else hi = mid;
      }
    }
    return all.slice(lo, lo + limit);
  }

  private finish(seq: number, done: Committed | null): void {
    this.finished.set(seq, done);
    for (
      let next = this.finished.get(this.notified + 1);
      next !== undefined;
      next = this.finished.get(this.notified + 1)
    ) {
      this.finished.delete(++this.notified);
      if (next !== null) for (const listener of this.commitListeners) listener(next.sku, next.change, next.update);
    }
  }

  /**
   * Calls `listener` after every durable commit (store updates and hub writes
   * alike), in change-number order, with the update committed; returns the unsubscribe.
   */
  onCommit(listener: (sku: Sku, change: Change, update: Uint8Array) => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  /** The last flush before the adapter closes; commits refused from now on do not count as a failure. */
  async close(): Promise<void> {
    this.closing = true;
    await this.flush();
  }

  async flush(): Promise<void> {
    await this.records.put(['hub', 'meta'], { epoch: this.epoch, cursor: this.current, clientId: this.clientId });
    await this.adapter.flush();
  }

  private get adapter(): StorageAdapter {
    return this.docs.adapter;
  }
}

const CursorSchema = z.strictObject({ epoch: z.string().nullable(), cursor: z.int().min(0) });
/** Who this replica is: its Yjs client id, and whether it has finished its first sync with the hub. */
const IdentitySchema = z.strictObject({ clientId: ClientIdSchema, firstSyncDone: z.boolean() });
const IDENTITY_KEY = ['store', 'identity'];

/** A random Yjs client id, as Yjs makes them. */
export function randomClientId(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
}

/**
 * A store's documents, dirty set and hub cursor, persisted through a
 * StorageAdapter. `recordLocal` is the one way a local change becomes durable:
 * the SKU is marked dirty before its update is stored, so a crash between the
 * two can only cause one needless sync.
 */
export class StoreStorage implements StoreDocuments {
  private readonly docs: PersistedDocs;
  private readonly records: RecordStore;
  private readonly dirtySet = new Set<Sku>();
  /** SKUs this store holds anything for. */
  private readonly known = new Set<Sku>();
  /** Local changes being written: their SKUs may not be cleaned until the sync has seen them. */
  private readonly writing = new Map<Sku, number>();

  private constructor(
    private readonly adapter: StorageAdapter,
    private identity: z.infer<typeof IdentitySchema>,
  ) {
    this.docs = new PersistedDocs(adapter, { clientId: identity.clientId });
    this.records = new RecordStore(adapter);
  }

  /**
   * Opens a store's storage. A data directory without an identity is a fresh
   * replica: it gets a new client id and must finish a first sync with the hub
   * before it writes (`firstSyncDone`). Data from before identities were kept
   * counts as synced: its documents hold the store's earlier writes.
   */
  static async open(adapter: StorageAdapter, newClientId: () => number = randomClientId): Promise<StoreStorage> {
    const records = new RecordStore(adapter);
    let identity = await records.get(IDENTITY_KEY, IdentitySchema);
    if (identity === undefined) {
      const hasData = (await adapter.keys(['doc'])).length > 0;
      identity = { clientId: newClientId(), firstSyncDone: hasData };
      await records.put(IDENTITY_KEY, identity);
    }
    const storage = new StoreStorage(adapter, identity);
    for (const sku of await storage.docs.storedSkus()) storage.known.add(sku);
    for (const key of await adapter.keys([DIRTY])) {
      const sku = SkuSchema.safeParse(key[1]);
      if (sku.success) storage.dirtySet.add(sku.data);
    }
    return storage;
  }

  open(sku: Sku): Promise<Y.Doc> {
    return this.docs.open(sku);
  }

  /** The Yjs client id this replica writes with, the same across restarts. */
  get clientId(): number {
    return this.identity.clientId;
  }

  /** Whether this replica has finished one sync with the hub since its data directory was created. */
  get firstSyncDone(): boolean {
    return this.identity.firstSyncDone;
  }

  /** Records that the first sync finished: from now on the replica may write. */
  async markFirstSyncDone(): Promise<void> {
    if (this.identity.firstSyncDone) return;
    const identity = { ...this.identity, firstSyncDone: true };
    await this.records.put(IDENTITY_KEY, identity);
    this.identity = identity;
  }

  /** Every SKU this store holds anything for. */
  skus(): Sku[] {
    return [...this.known];
  }

  has(sku: Sku): boolean {
    return this.known.has(sku);
  }

  /**
   * Makes a local change durable, in one atomic batch with the SKU's dirty mark
   * and any `extra` writes (such as the idempotency record of the request that
   * made the change). Call before acknowledging the change or sending it.
   */
  async recordLocal(sku: Sku, update: Uint8Array, extra: readonly StorageWrite[] = []): Promise<void> {
    this.writing.set(sku, (this.writing.get(sku) ?? 0) + 1);
    this.known.add(sku);
    try {
      const mark: StorageWrite[] = this.dirtySet.has(sku) ? [] : [{ key: [DIRTY, sku], data: new Uint8Array(0) }];
      this.dirtySet.add(sku);
      await this.docs.append(sku, update, [...mark, ...extra]);
    } finally {
      const left = (this.writing.get(sku) ?? 1) - 1;
      if (left === 0) this.writing.delete(sku);
      else this.writing.set(sku, left);
    }
  }

  async applyRemote(sku: Sku, update: Uint8Array): Promise<Y.Doc> {
    const doc = await this.docs.open(sku);
    YCodec.applyUpdate(doc, update, REMOTE_ORIGIN);
    this.known.add(sku);
    await this.docs.append(sku, update);
    return doc;
  }

  dirty(): Promise<Sku[]> {
    return Promise.resolve([...this.dirtySet]);
  }

  isDirty(sku: Sku): boolean {
    return this.dirtySet.has(sku);
  }

  dirtyCount(): number {
    return this.dirtySet.size;
  }

  markClean(skus: readonly Sku[]): Promise<void> {
    const clean = skus.filter((sku) => !this.writing.has(sku) && this.dirtySet.delete(sku));
    if (clean.length === 0) return Promise.resolve();
    return this.adapter.writeBatch(clean.map((sku) => ({ key: [DIRTY, sku], remove: true as const })));
  }

  async loadCursor(): Promise<{ epoch: string | null; cursor: number }> {
    return (await this.records.get(['sync', 'cursor'], CursorSchema)) ?? { epoch: null, cursor: 0 };
  }

  saveCursor(epoch: string, cursor: number): Promise<void> {
    return this.records.put(['sync', 'cursor'], { epoch, cursor });
  }
}
