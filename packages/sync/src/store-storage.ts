import { SkuSchema, type Sku } from '@shelfsync/protocol';
import { RecordStore, type StorageAdapter, type StorageWrite } from '@shelfsync/storage';
import type * as Y from 'yjs';
import * as YCodec from 'yjs';
import { z } from 'zod';
import { ClientIdSchema, PersistedDocs, REMOTE_ORIGIN, randomClientId } from './persisted-docs.js';
import type { StoreDocuments } from './store-sync.js';

/** Key prefix of the dirty marks: one empty record per SKU with local changes the hub may lack. */
const DIRTY = 'dirty';
/** How many cleared dirty marks may wait for a write to carry their removal before they get one of their own. */
const CLEAN_MARKS_BATCH = 64;
const CursorSchema = z.strictObject({
  epoch: z.string().nullable(),
  cursor: z.int().min(0),
  // Absent in data written before it was kept.
  protocol: z.int().min(0).optional(),
});
/** Who this replica is: its Yjs client id, and whether it has finished its first sync with the hub. */
const IdentitySchema = z.strictObject({ clientId: ClientIdSchema, firstSyncDone: z.boolean() });
const IDENTITY_KEY = ['store', 'identity'];

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
  /**
   * SKUs cleaned in memory whose dirty mark is still stored. The removal rides
   * on the next write, or gets one of its own once CLEAN_MARKS_BATCH gather: a
   * write and an fsync per acknowledgement would double what a sale costs, and a
   * mark left behind by a crash only costs the SKU one needless exchange.
   */
  private readonly cleanPending = new Set<Sku>();

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
      await this.docs.append(sku, update, [...mark, ...extra], this.takeCleanMarks);
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
    await this.docs.append(sku, update, [], this.takeCleanMarks);
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
    for (const sku of skus) if (!this.writing.has(sku) && this.dirtySet.delete(sku)) this.cleanPending.add(sku);
    if (this.cleanPending.size < CLEAN_MARKS_BATCH) return Promise.resolve();
    return this.adapter.writeBatch(this.takeCleanMarks());
  }

  /** Stores every cleared dirty mark's removal now, as a clean shutdown does. */
  async flushCleanMarks(): Promise<void> {
    const writes = this.takeCleanMarks();
    if (writes.length > 0) await this.adapter.writeBatch(writes);
  }

  /**
   * The removals of the marks cleaned since the last write, taken as a write is
   * issued. Adapter calls take effect in call order, so a removal issued now
   * cannot undo a mark issued later; and a SKU dirty again by now (its mark
   * issued earlier, or about to be) is skipped.
   */
  private readonly takeCleanMarks = (): StorageWrite[] => {
    const writes: StorageWrite[] = [];
    for (const sku of this.cleanPending) if (!this.dirtySet.has(sku)) writes.push({ key: [DIRTY, sku], remove: true });
    this.cleanPending.clear();
    return writes;
  };

  async loadCursor(): Promise<{ epoch: string | null; cursor: number; protocol?: number | undefined }> {
    return (await this.records.get(['sync', 'cursor'], CursorSchema)) ?? { epoch: null, cursor: 0 };
  }

  saveCursor(epoch: string, cursor: number, protocol: number): Promise<void> {
    return this.records.put(['sync', 'cursor'], { epoch, cursor, protocol });
  }
}
