import { createSkuDoc } from '@shelfsync/core';
import type { Sku } from '@shelfsync/protocol';
import { REMOTE_ORIGIN, type PinnedDoc, type ResidencyOptions } from '@shelfsync/sync';
import type pg from 'pg';
import * as Y from 'yjs';
import type { ChangeRow } from './change-rows.js';
import { readDocument } from './doc-snapshots.js';

/** Never evict a document used more recently than this: a caller may hold it between two awaits. */
const MIN_IDLE_MS = 1_000;

interface Resident {
  readonly doc: Promise<Y.Doc>;
  loaded: Y.Doc | null;
  /** Changes of other nodes heard while the document loads: applied once it has (Yjs ignores what it holds). */
  heard: Uint8Array[] | null;
  lastUsed: number;
  pins: number;
  /** Commits of this SKU not settled yet: the document holds changes the database may not. */
  writing: number;
  /** Changes the log holds after the SKU's snapshot, as far as this node knows. */
  sinceSnapshot: number;
}

/**
 * The SKU documents one hub node holds in memory, read from the cluster's
 * change log (a snapshot, then every change after it), and kept current with
 * the changes other nodes commit (`heard`). A document whose commit the
 * database refused (`drop`) leaves memory at once, since it holds a change
 * nobody else has; its next use reads it again.
 */
export class ClusterDocs {
  /** Map order is least recently used first. */
  private readonly resident = new Map<Sku, Resident>();
  /** Dropped documents still pinned by readers: kept current until released. */
  private readonly orphans = new Map<Sku, Set<Resident>>();
  private readonly now: () => number;
  private evictions = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: string,
    /** The id documents rest on: nothing is ever written under it, so Yjs never moves it. */
    private readonly neutralClientId: number,
    private readonly residency: ResidencyOptions,
  ) {
    this.now = residency.now ?? Date.now;
  }

  open(sku: Sku): Promise<Y.Doc> {
    return this.touch(sku).doc;
  }

  /** The SKU's document if it is in memory and loaded, without touching it. */
  loaded(sku: Sku): Y.Doc | undefined {
    return this.resident.get(sku)?.loaded ?? undefined;
  }

  async pin(sku: Sku): Promise<PinnedDoc> {
    const entry = this.touch(sku);
    entry.pins++;
    try {
      const doc = await entry.doc;
      let released = false;
      return {
        doc,
        release: () => {
          if (released) return;
          released = true;
          entry.pins--;
          entry.lastUsed = this.now();
          if (entry.pins === 0) this.orphans.get(sku)?.delete(entry);
        },
      };
    } catch (error) {
      entry.pins--;
      throw error;
    }
  }

  /** Marks a commit of `sku` in flight (the document is not evicted meanwhile); call the answer when it settles. */
  writing(sku: Sku): () => void {
    const entry = this.resident.get(sku);
    if (entry === undefined) return () => undefined;
    entry.writing++;
    return () => {
      entry.writing--;
    };
  }

  /**
   * A committed change: applied to the document in memory, if any (also to a
   * dropped one still read). Another node's, or this node's own: the copy its
   * commit was applied to may have been dropped and read again meanwhile, and
   * applying a change a copy holds changes nothing.
   */
  heard(row: ChangeRow, own = false): void {
    const entries = [...(this.orphans.get(row.sku) ?? [])];
    const entry = this.resident.get(row.sku);
    if (entry !== undefined) entries.push(entry);
    for (const held of entries) {
      if (held.loaded !== null) this.apply(held.loaded, [row.update]);
      else held.heard?.push(row.update);
    }
    if (entry !== undefined && !own) entry.sinceSnapshot++;
  }

  /** This node committed a change of `sku`: how many changes the log now holds after its snapshot, as far as known. */
  committed(sku: Sku): number {
    const entry = this.resident.get(sku);
    if (entry === undefined) return 0;
    return ++entry.sinceSnapshot;
  }

  /** A snapshot of `sku` now holds every change up to the one this node counted last. */
  compacted(sku: Sku, counted: number): void {
    const entry = this.resident.get(sku);
    if (entry !== undefined) entry.sinceSnapshot = Math.max(0, entry.sinceSnapshot - counted);
  }

  /** Forgets the SKU's document: it holds a change the database refused. Readers that pin it keep it until released. */
  drop(sku: Sku): void {
    const entry = this.resident.get(sku);
    if (entry === undefined) return;
    this.resident.delete(sku);
    if (entry.pins > 0) {
      const orphans = this.orphans.get(sku) ?? new Set<Resident>();
      orphans.add(entry);
      this.orphans.set(sku, orphans);
    }
  }

  /** Drops every document in memory whose SKU `which` picks (their shard's lease moved). */
  dropWhere(which: (sku: Sku) => boolean): void {
    for (const sku of [...this.resident.keys()]) if (which(sku)) this.drop(sku);
  }

  /** Drops idle documents with nothing in flight and no readers; returns how many went. */
  evictIdle(): number {
    const { evictIdleAfterMs, maxResidentDocs } = this.residency;
    if (evictIdleAfterMs === undefined && maxResidentDocs === undefined) return 0;
    const now = this.now();
    const idleFor = Math.max(evictIdleAfterMs ?? Infinity, MIN_IDLE_MS);
    let excess = maxResidentDocs === undefined ? 0 : this.resident.size - maxResidentDocs;
    let evicted = 0;
    for (const [sku, entry] of this.resident) {
      if (entry.pins > 0 || entry.writing > 0 || entry.loaded === null) continue;
      const idle = now - entry.lastUsed;
      if (idle < MIN_IDLE_MS || (idle < idleFor && excess <= 0)) continue;
      this.resident.delete(sku);
      entry.loaded.destroy();
      excess--;
      evicted++;
    }
    this.evictions += evicted;
    return evicted;
  }

  residencyStats(): { resident: number; evictions: number } {
    return { resident: this.resident.size, evictions: this.evictions };
  }

  private touch(sku: Sku): Resident {
    let entry = this.resident.get(sku);
    if (entry === undefined) {
      const doc = this.load(sku).then(({ loaded, changes }) => {
        // Heard while loading: what the read missed, or holds already (applying it again changes nothing).
        this.apply(loaded, created.heard ?? []);
        created.sinceSnapshot += changes;
        created.heard = null;
        created.loaded = loaded;
        return loaded;
      });
      const created: Resident = {
        doc,
        loaded: null,
        heard: [],
        lastUsed: this.now(),
        pins: 0,
        writing: 0,
        sinceSnapshot: 0,
      };
      doc.catch(() => {
        // A failed load is not cached: the next use tries again.
        if (this.resident.get(sku) === created) this.resident.delete(sku);
      });
      entry = created;
    } else {
      this.resident.delete(sku);
      entry.lastUsed = this.now();
    }
    this.resident.set(sku, entry);
    return entry;
  }

  /** Reads the SKU's snapshot and every change after it. */
  private async load(sku: Sku): Promise<{ loaded: Y.Doc; changes: number }> {
    const { updates, changes } = await readDocument(this.pool, this.log, sku);
    const loaded = createSkuDoc();
    this.apply(loaded, updates);
    return { loaded, changes };
  }

  private apply(doc: Y.Doc, updates: readonly Uint8Array[]): void {
    if (updates.length === 0) return;
    Y.transact(
      doc,
      () => {
        for (const update of updates) Y.applyUpdate(doc, update, REMOTE_ORIGIN);
      },
      REMOTE_ORIGIN,
    );
    // Yjs gives a document a new client id when a remote change adds structs under its current one.
    doc.clientID = this.neutralClientId;
  }
}
