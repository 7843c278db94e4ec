import {
  applyOperation,
  migrateToV2,
  mirrorVersion1,
  schemaVersion,
  validateUpdate,
  type Operation,
  type OperationOutcome,
  type WriterClients,
} from '@shelfsync/core';
import {
  ErrorCode,
  HUB_WRITER,
  storeWriter,
  writerKey,
  type ErrorCode as Code,
  type Result,
  type Sku,
  type StoreId,
} from '@shelfsync/protocol';
import type { StorageWrite } from '@shelfsync/storage';
import * as Y from 'yjs';
import type { HubDocuments } from './hub-sync.js';

/**
 * Why the hub writes a SKU's document, for metrics, logs and tracing: a rebalance
 * grant, a top-up, a reservation made, a settlement (an override deficit covered)
 * or a release (a reservation confirmed, cancelled or expired). Every lane of one
 * SKU shares one write order: the name never changes what runs when.
 */
export type HubWriteLane = 'grant' | 'topup' | 'reservation' | 'settlement' | 'release';

/** One of the hub's own writes, done: what the lane did, and how long it waited for and held the SKU. */
export interface HubWriteRecord {
  readonly sku: Sku;
  readonly lane: HubWriteLane;
  /**
   * `written` (committed and relayed, with its `change`), `unchanged` (the decision
   * wrote nothing, or the operation was refused) or `failed` (it threw: an `extra`
   * that failed, or the storage).
   */
  readonly outcome: 'written' | 'unchanged' | 'failed';
  readonly change: number | null;
  /** Milliseconds queued behind earlier writes of the SKU. */
  readonly waitedMs: number;
  /** Milliseconds from its turn to done: decide, apply, commit (durable) and relay. */
  readonly ms: number;
}

/** A store's connection as the engine sees it: the store it speaks for. The relay tells connections apart by identity. */
export interface StoreConnection {
  readonly storeId: StoreId;
}

/**
 * Where the hub's committed updates go: `HubSync`, which sends each store what its
 * protocol holds (`HubRelay`: a store holding only its share gets only that).
 */
export interface Relay {
  /**
   * Sends an update the hub has committed, with its change number, to the stores
   * that should hold it, except on `except`: the connection the update came from,
   * which is answered with an acknowledgement instead. Another connection of the
   * same store (it reconnected meanwhile) still gets it: the store learns the
   * change number from it, or its cursor stops below it. `doc` is the hub's
   * document with the update applied (who holds the SKU). Called once the update is
   * durable, in the order the hub's commits resolve; must not throw.
   */
  relay(sku: Sku, update: Uint8Array, change: number, doc: Y.Doc, except?: StoreConnection): void;
  /**
   * Whether a store that reads only schema version 1 is connected: the hub then
   * keeps the `hub` entry of the documents it writes current for it (ADR 0021).
   */
  servesVersion1(): boolean;
}

/** Hears that a store's update of `sku` is committed and relayed (the allocator learns its sales). Must not throw. */
export type StoreUpdateListener = (storeId: StoreId, sku: Sku) => void;

/** What became of a store's update. */
export type StoreUpdateOutcome =
  /** Refused: nothing of it was applied, reserved or committed. */
  | { readonly type: 'refused'; readonly code: Code; readonly detail: string }
  /** Valid, and the hub's document held all of it already: nothing committed, nothing relayed. */
  | { readonly type: 'held' }
  /** Applied, durable under `change`, acknowledged (through `durable`) and relayed. */
  | { readonly type: 'committed'; readonly change: number };

/** The hub's own writes to SKU documents: what the allocator and the reservations need of the engine. */
export interface HubWriter {
  /**
   * Applies the operation `decide` picks from the SKU's current document as the
   * hub (none: nothing is written), makes it durable with the storage writes
   * `extra` derives from its outcome, in one batch, and relays it. Runs after every
   * earlier hub write of the SKU (in any lane) is done and durable, so each
   * decides on the last. Resolves with the operation's result, or null when
   * `decide` picked none.
   */
  writeAsHub(
    sku: Sku,
    lane: HubWriteLane,
    decide: (doc: Y.Doc) => Operation | null,
    extra?: (outcome: OperationOutcome) => readonly StorageWrite[],
  ): Promise<Result<OperationOutcome> | null>;
}

export interface HubEngineOptions {
  /** The largest manager-override deficit per store account the hub accepts (see validateUpdate). */
  readonly maxDeficit: number;
  readonly now: () => number;
  /** Each hub write once done, for metrics and traces. Must not throw. */
  readonly onHubWrite: (write: HubWriteRecord) => void;
}

const DEFAULT_OPTIONS: HubEngineOptions = { maxDeficit: 0, now: () => Date.now(), onHubWrite: () => {} };

type EngineDocuments = Pick<
  HubDocuments,
  'open' | 'commit' | 'hubWrite' | 'clientOwner' | 'reserveClients' | 'writerClients'
>;

/**
 * The one place the hub changes a SKU document. A store's update and the hub's
 * own writes both end here: validated or decided on the hub's document, applied,
 * made durable, then relayed (`Relay`), in that order. Nothing leaves the hub
 * before its disk holds it, and no change stays in memory that its disk lacks
 * unless the storage has failed, which halts the hub.
 *
 * Store updates are applied in the tick they are judged, each session's in the
 * order it sent them; the hub's own writes of a SKU run one at a time
 * (`HubDocuments.hubWrite`), each deciding on the document the last one left.
 */
export class HubEngine implements HubWriter {
  private readonly options: HubEngineOptions;
  private readonly listeners = new Set<StoreUpdateListener>();

  constructor(
    private readonly documents: EngineDocuments,
    private readonly relay: Relay,
    options: Partial<HubEngineOptions> = {},
  ) {
    this.options = { ...DEFAULT_OPTIONS, ...options };
  }

  /**
   * Takes a store's update of `sku` that arrived on `from`: judges it against the
   * hub's document (`validateUpdate`: its writer, its client ids, the rights it
   * spends), reserves the client ids it introduces and applies it, all in one
   * tick; commits it; once it is durable calls `durable` with its change number
   * (the session acknowledges it there), relays it to every connection but `from`,
   * and tells the listeners. A refused update changes nothing. Rejects when the
   * commit fails: nothing is acknowledged or relayed, and the hub halts (the
   * storage reports it).
   */
  async acceptStoreUpdate(
    from: StoreConnection,
    sku: Sku,
    payload: Uint8Array,
    durable: (change: number) => void = () => {},
  ): Promise<StoreUpdateOutcome> {
    const doc = await this.documents.open(sku);
    const update = this.applyStoreUpdate(from, doc, payload);
    if (update.type !== 'applied') return update;
    // Called in the tick the update was applied: change numbers follow the order of the document's changes.
    const change = await this.documents.commit(sku, update.applied, update.reservations);
    // Acknowledged, relayed, then heard, in one tick: the sender's ack goes out before any relay of the change.
    durable(change);
    this.relay.relay(sku, update.applied, change, doc, from);
    for (const listener of this.listeners) {
      try {
        listener(from.storeId, sku);
      } catch {
        // A listener's own failure must not stop the others, or the session's frames.
      }
    }
    return { type: 'committed', change };
  }

  writeAsHub(
    sku: Sku,
    lane: HubWriteLane,
    decide: (doc: Y.Doc) => Operation | null,
    extra: (outcome: OperationOutcome) => readonly StorageWrite[] = () => [],
  ): Promise<Result<OperationOutcome> | null> {
    const asked = this.options.now();
    return this.documents.hubWrite(sku, async () => {
      const started = this.options.now();
      const done = (outcome: HubWriteRecord['outcome'], change: number | null = null): void => {
        const ms = this.options.now() - started;
        try {
          this.options.onHubWrite({ sku, lane, outcome, change, waitedMs: started - asked, ms });
        } catch {
          // Metrics never fail a write.
        }
      };
      try {
        const written = await this.applyAsHub(sku, decide, extra);
        done(written.change === null ? 'unchanged' : 'written', written.change);
        return written.result;
      } catch (error) {
        done('failed');
        throw error;
      }
    });
  }

  /** Calls `listener` after every store update committed and relayed (not the hub's own writes); returns the unsubscribe. */
  onStoreUpdate(listener: StoreUpdateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * In the SKU's hub write order: decide, apply as the hub, commit with `extra`,
   * relay. The first hub write of a version 1 document migrates it to version 2
   * in the same commit (`migrateToV2`; a document it refuses stays version 1 and
   * is written as such), and while a store that reads only version 1 is
   * connected, the `hub` entry is brought up to date with it (`mirrorVersion1`).
   * An operation the document refuses writes nothing, the migration included.
   */
  private async applyAsHub(
    sku: Sku,
    decide: (doc: Y.Doc) => Operation | null,
    extra: (outcome: OperationOutcome) => readonly StorageWrite[],
  ): Promise<{ result: Result<OperationOutcome> | null; change: number | null }> {
    const doc = await this.documents.open(sku);
    const op = decide(doc);
    if (op === null) return { result: null, change: null };
    const clients = this.documents.writerClients;
    const updates: Uint8Array[] = [];
    const capture = (u: Uint8Array, origin: unknown): void => {
      if (origin === this) updates.push(u);
    };
    doc.on('update', capture);
    let result: Result<OperationOutcome>;
    try {
      if (schemaVersion(doc) === 1 && wouldApply(doc, op, clients)) migrateToV2(doc, sku, clients, this);
      result = applyOperation(doc, HUB_WRITER, op, this, clients);
      if (result.ok && this.relay.servesVersion1()) mirrorVersion1(doc, clients, this);
    } finally {
      doc.off('update', capture);
    }
    const [first] = updates;
    if (first === undefined) return { result, change: null };
    const update = updates.length === 1 ? first : Y.mergeUpdates(updates);
    let writes: readonly StorageWrite[] = [];
    try {
      if (result.ok) writes = extra(result.value);
    } catch (error) {
      // The change is in the document already: store it anyway, so memory
      // never holds a change of the hub that its disk lacks, and relay it like any
      // other, so no store waits for a catch-up to learn of it.
      const stored = await this.documents.commit(sku, update, clients.pendingRecords());
      this.relay.relay(sku, update, stored, doc);
      throw error;
    }
    const change = await this.documents.commit(sku, update, [...writes, ...clients.pendingRecords()]);
    this.relay.relay(sku, update, change, doc);
    return { result, change };
  }

  /**
   * Judges a store's update and, when it changes anything, reserves the client
   * ids it introduces and applies it with `from` as origin, all in one tick. What
   * to commit is Yjs' own incremental update, not the store's bytes, since a step 2
   * also carries the store's whole delete set.
   */
  private applyStoreUpdate(
    from: StoreConnection,
    doc: Y.Doc,
    payload: Uint8Array,
  ):
    | Exclude<StoreUpdateOutcome, { type: 'committed' }>
    | { readonly type: 'applied'; readonly applied: Uint8Array; readonly reservations: StorageWrite[] } {
    const writer = storeWriter(from.storeId);
    const verdict = validateUpdate(doc, payload, writer, {
      maxDeficit: this.options.maxDeficit,
      clientOwner: (client) => this.documents.clientOwner(client),
    });
    if (!verdict.ok) return { type: 'refused', code: verdict.error.code, detail: verdict.error.detail };
    if (!verdict.value.changed) return { type: 'held' };
    // In the same tick as the verdict: no other writer's update can claim these ids in between.
    const reservations = this.documents.reserveClients(writerKey(writer), verdict.value.clients);
    if (typeof reservations === 'string') {
      return { type: 'refused', code: ErrorCode.UpdateClientIdTaken, detail: reservations };
    }
    let applied: Uint8Array | null = null;
    const capture = (update: Uint8Array, by: unknown): void => {
      if (by === from) applied = update;
    };
    doc.on('update', capture);
    try {
      Y.applyUpdate(doc, payload, from);
    } finally {
      doc.off('update', capture);
    }
    return { type: 'applied', applied: applied ?? payload, reservations };
  }
}

/**
 * Whether the hub's operation would apply to the version 1 document `doc`: tried
 * on a copy, once per SKU (before its migration), so that a refused operation
 * leaves the document as it was. Rights read the same in both versions.
 */
function wouldApply(doc: Y.Doc, op: Operation, clients: WriterClients): boolean {
  const copy = new Y.Doc({ gc: false });
  try {
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
    return applyOperation(copy, HUB_WRITER, op, null, { idFor: () => clients.idFor('hub'), neutral: clients.neutral })
      .ok;
  } finally {
    copy.destroy();
  }
}
