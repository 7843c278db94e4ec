import * as Y from 'yjs';
import type { StorageAdapter, StorageKey, StorageWrite } from './storage-adapter.js';

const SEQ_DIGITS = 12;
const seqPattern = /^\d{12}$/;

/** Per SKU: the next sequence number and how many update records are stored. */
interface SeqState {
  next: number;
  stored: number;
}

/**
 * Yjs SKU documents over any StorageAdapter: a compacted snapshot per SKU plus
 * the updates stored since, each under its own sequence number:
 * `['doc', sku, 'snapshot']` and `['doc', sku, 'u', <seq, 12 digits>]`.
 * Sequence numbers only need to be unique per SKU: Yjs applies updates in any order.
 * A DocStore learns the last one from the stored keys on first touch of a SKU, so
 * numbering continues after a restart (from 1 again only when a compaction left
 * no record, which keeps them unique).
 * One DocStore per adapter: it counts the records it writes, so a second writer
 * of the same SKUs would make its sequence numbers collide.
 */
export class DocStore {
  /** Transaction origin of everything `load` applies. */
  static readonly LOAD_ORIGIN: unique symbol = Symbol('shelfsync.docstore.load');

  private readonly compactEvery: number;
  /** Per SKU, once first touched: its sequence state, read from the stored keys. */
  private readonly state = new Map<string, Promise<SeqState>>();
  /** Synchronously readable copy of the per-SKU state, for needsCompaction. */
  private readonly known = new Map<string, SeqState>();
  /** SKUs with a compaction in flight: concurrent appends must not start another one each. */
  private readonly compacting = new Set<string>();

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
    // What was just read is the SKU's sequence state, unless an append or a
    // compaction already asked for it (theirs is at least as recent): this makes
    // needsCompaction right from the first load after a restart.
    if (!this.state.has(sku)) this.remember(sku, seqStateOf(updates.map((c) => c.key)));
    if (snapshot === undefined && updates.length === 0) return false;
    doc.transact(() => {
      if (snapshot !== undefined) Y.applyUpdate(doc, snapshot.data, DocStore.LOAD_ORIGIN);
      for (const update of updates) Y.applyUpdate(doc, update.data, DocStore.LOAD_ORIGIN);
    }, DocStore.LOAD_ORIGIN);
    return true;
  }

  /**
   * Replaces the stored updates of `sku` by one snapshot of `doc`, atomically.
   * The caller guarantees `doc` holds every stored update of the SKU. Updates
   * appended while the compaction runs keep their records (the snapshot may hold
   * them too: applying an update twice is harmless).
   */
  async compact(sku: string, doc: Y.Doc): Promise<void> {
    this.compacting.add(sku);
    try {
      const state = await this.stateOf(sku);
      const covered = await this.adapter.keys(['doc', sku, 'u']);
      await this.adapter.writeBatch([
        { key: ['doc', sku, 'snapshot'], data: Y.encodeStateAsUpdate(doc) },
        ...covered.map((key) => ({ key, remove: true as const })),
      ]);
      state.stored = Math.max(0, state.stored - covered.length);
    } finally {
      this.compacting.delete(sku);
    }
  }

  /**
   * Whether `sku` has piled up `compactEvery` update records, so the caller
   * should `compact` it. False until the SKU was first loaded, appended to or
   * compacted through this DocStore, and while a compaction of it is running.
   */
  needsCompaction(sku: string): boolean {
    const state = this.known.get(sku);
    return state !== undefined && state.stored >= this.compactEvery && !this.compacting.has(sku);
  }

  /**
   * Forgets what this DocStore counted for `sku` (its document left memory); the
   * next touch reads it from the stored keys again. The caller guarantees no
   * append or compaction of the SKU is in flight.
   */
  forget(sku: string): void {
    if (this.compacting.has(sku)) return;
    this.state.delete(sku);
    this.known.delete(sku);
  }

  /** Every SKU with anything stored, sorted. */
  async skus(): Promise<string[]> {
    const skus = new Set<string>();
    for (const key of await this.adapter.keys(['doc'])) if (key[1] !== undefined) skus.add(key[1]);
    return [...skus].sort();
  }

  private stateOf(sku: string): Promise<SeqState> {
    let state = this.state.get(sku);
    if (state === undefined) {
      state = this.adapter.keys(['doc', sku, 'u']).then(
        (keys) => this.remember(sku, seqStateOf(keys)),
        (error: unknown) => {
          // Forget a failed read (closed adapter, invalid SKU) so a later call asks again.
          this.state.delete(sku);
          throw error;
        },
      );
      this.state.set(sku, state);
    }
    return state;
  }

  private remember(sku: string, state: SeqState): SeqState {
    this.state.set(sku, Promise.resolve(state));
    this.known.set(sku, state);
    return state;
  }
}

function updateKey(sku: string, seq: number): StorageKey {
  return ['doc', sku, 'u', String(seq).padStart(SEQ_DIGITS, '0')];
}

/** The sequence state given a SKU's update keys, in key order (so the last one holds the highest number). */
function seqStateOf(keys: readonly StorageKey[]): SeqState {
  let last = 0;
  for (const key of keys) {
    const seq = key[3];
    if (seq !== undefined && seqPattern.test(seq)) last = Math.max(last, Number(seq));
  }
  return { next: last + 1, stored: keys.length };
}
