import { SkuSchema, type Sku } from '@shelfsync/protocol';
import { DocStore, StorageWriteError, type StorageAdapter, type StorageWrite } from '@shelfsync/storage';
import { createSkuDoc } from '@shelfsync/core';
import type * as Y from 'yjs';
import { z } from 'zod';

/** Transaction origin of updates loaded from storage or received from a peer: not local changes. */
export const REMOTE_ORIGIN = Symbol('shelfsync.remote');

/** Yjs client ids are unsigned 32-bit integers (as Yjs generates them). */
export const ClientIdSchema = z.int().min(0).max(0xffff_ffff);

/** A random Yjs client id, as Yjs makes them. */
export function randomClientId(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
}

/**
 * An id `draw` gives that `taken` does not refuse. After a refused draw it walks
 * on from it (a full-period step over all 2^32 ids) instead of drawing again, so
 * that a fixed draw, as deterministic runs use, still ends, and still repeats.
 */
export function freshClientId(draw: () => number, taken: (client: number) => boolean): number {
  let client = draw();
  while (taken(client)) client = (Math.imul(client, 2_654_435_761) + 1) >>> 0;
  return client;
}

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

export interface PersistedDocsOptions extends ResidencyOptions {
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
export class PersistedDocs {
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
   * batch with `extra` writes, and compacts the SKU when due. `lateExtra` is
   * called as the batch is issued, for writes that must reflect the state of
   * that moment rather than of the call.
   */
  async append(
    sku: Sku,
    update: Uint8Array,
    extra: readonly StorageWrite[] = [],
    lateExtra?: () => readonly StorageWrite[],
  ): Promise<void> {
    // Counted before the first await, so the document cannot be evicted with this update unstored.
    const entry = this.touch(sku);
    entry.writing++;
    try {
      const record = await this.docStore.prepareAppend(sku, update);
      await this.adapter.writeBatch([...(lateExtra?.() ?? []), ...extra, record]);
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
