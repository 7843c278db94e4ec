import * as Y from 'yjs';
import type { StorageAdapter, StorageKey, StorageWrite } from './storage-adapter.js';

const SEQ_DIGITS = 12;

/**
 * Yjs SKU documents over any StorageAdapter: a compacted snapshot per SKU plus
 * the updates stored since, each under its own sequence number:
 * `['doc', sku, 'snapshot']` and `['doc', sku, 'u', <seq, 12 digits>]`.
 * Sequence numbers only need to be unique per SKU: Yjs applies updates in any order.
 */
export class DocStore {
  /** Transaction origin of everything `load` applies. */
  static readonly LOAD_ORIGIN: unique symbol = Symbol('shelfsync.docstore.load');

  private readonly compactEvery: number;
  /** Per SKU: the next sequence number and how many update records are stored. */
  private readonly state = new Map<string, Promise<{ next: number; stored: number }>>();

  constructor(
    private readonly adapter: StorageAdapter,
    options: { compactEvery?: number } = {},
  ) {
    this.compactEvery = options.compactEvery ?? 200;
  }

  /** Stores one update of `sku` under the next sequence number. */
  async appendUpdate(sku: string, update: Uint8Array): Promise<void> {
    await this.adapter.writeBatch([await this.prepareAppend(sku, update)]);
  }

  /**
   * The write that stores one update of `sku` under the next sequence number, for
   * a caller that must store it atomically with other writes (`writeBatch`).
   */
  async prepareAppend(sku: string, update: Uint8Array): Promise<StorageWrite> {
    const state = await this.stateOf(sku);
    const seq = state.next++;
    state.stored++;
    return { key: updateKey(sku, seq), data: update };
  }

  /** Applies the snapshot and every stored update of `sku` to `doc`, in one transaction; false when nothing is stored. */
  async load(sku: string, doc: Y.Doc): Promise<boolean> {
    const chunks = await this.adapter.loadRange(['doc', sku]);
    const snapshot = chunks.find((c) => c.key.length === 3 && c.key[2] === 'snapshot');
    const updates = chunks.filter((c) => c.key.length === 4 && c.key[2] === 'u');
    if (snapshot === undefined && updates.length === 0) return false;
    doc.transact(() => {
      if (snapshot !== undefined) Y.applyUpdate(doc, snapshot.data, DocStore.LOAD_ORIGIN);
      for (const update of updates) Y.applyUpdate(doc, update.data, DocStore.LOAD_ORIGIN);
    }, DocStore.LOAD_ORIGIN);
    return true;
  }

  /**
   * Replaces the stored updates of `sku` by one snapshot of `doc`, atomically.
   * The caller guarantees `doc` holds every stored update of the SKU.
   */
  async compact(sku: string, doc: Y.Doc): Promise<void> {
    const state = await this.stateOf(sku);
    const covered = await this.adapter.keys(['doc', sku, 'u']);
    await this.adapter.writeBatch([
      { key: ['doc', sku, 'snapshot'], data: Y.encodeStateAsUpdate(doc) },
      ...covered.map((key) => ({ key, remove: true as const })),
    ]);
    state.stored = Math.max(0, state.stored - covered.length);
  }

  /** Whether `sku` has piled up enough update records to be worth compacting. */
  needsCompaction(sku: string): boolean {
    const state = this.known.get(sku);
    return state !== undefined && state.stored >= this.compactEvery;
  }

  /** Every SKU with anything stored, sorted. */
  async skus(): Promise<string[]> {
    const skus = new Set<string>();
    for (const key of await this.adapter.keys(['doc'])) if (key[1] !== undefined) skus.add(key[1]);
    return [...skus].sort();
  }

  /** Synchronously readable copy of the per-SKU state, for needsCompaction. */
  private readonly known = new Map<string, { next: number; stored: number }>();

  private stateOf(sku: string): Promise<{ next: number; stored: number }> {
    let state = this.state.get(sku);
    if (state === undefined) {
      state = this.adapter.keys(['doc', sku, 'u']).then((keys) => {
        const last = keys.at(-1)?.[3];
        const loaded = { next: last === undefined ? 1 : Number(last) + 1, stored: keys.length };
        this.known.set(sku, loaded);
        return loaded;
      });
      this.state.set(sku, state);
    }
    return state;
  }
}

function updateKey(sku: string, seq: number): StorageKey {
  return ['doc', sku, 'u', String(seq).padStart(SEQ_DIGITS, '0')];
}
