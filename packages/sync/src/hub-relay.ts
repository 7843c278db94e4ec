import { filterUpdate, ledgerOf, schemaVersion, updateClients } from '@shelfsync/core';
import { parseAccountId, type Sku, type StoreId } from '@shelfsync/protocol';
import type * as Y from 'yjs';
import type { ControlMessage } from './control.js';
import { SyncMessageType, encodeDocFrame } from './frames.js';
import { version1Update, type HubWriterClients } from './hub-clients.js';
import { ShareChanges } from './hub-share-changes.js';
import { ChangeCursor } from './sent-changes.js';

/** What the relay needs of a store's live session. */
export interface RelayTarget {
  readonly storeId: StoreId;
  readonly isLive: boolean;
  /** The store reads schema version 2 (protocol 6 and later). */
  readonly readsVersion2: boolean;
  /** The store holds only its share of each document (protocol 7 and later). */
  readonly readsShares: boolean;
  sendFrame(frame: Uint8Array): void;
  send(message: ControlMessage): void;
}

/** Whose share an update touches, as `HubRelay` reads it from its ids. */
interface Touched {
  readonly clients: ReadonlySet<number>;
  readonly version: ReturnType<typeof schemaVersion>;
  readonly locations: ReadonlySet<string>;
  readonly everyHolder: boolean;
}

/**
 * Sends each update the hub commits to the stores that should hold it, as
 * each one's protocol has it (ADR 0022):
 * - a store that holds only its share (protocol 7) gets the update only when it
 *   touches its share, restricted to it: a store's sale reaches no other store,
 *   a hub write of an online account reaches that location's store, `meta`
 *   reaches every store holding the SKU. Such a store learns of the changes it
 *   is not sent from a `cursor` message (`flushCursors`);
 * - a store that reads version 2 as a whole replica (protocol 6) gets every update;
 * - a store that reads only version 1 gets every update without version 2's ids.
 */
export class HubRelay {
  /** The change number up to which every change has been through `relay`. */
  private readonly relayed: ChangeCursor;
  /** The cursor each share-holding session was last told. */
  private readonly told = new WeakMap<RelayTarget, number>();
  /** Whose share each SKU's changes touched: what a share store's welcome lists. */
  private readonly shareChanges: ShareChanges;
  private cursorTimer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly live: ReadonlyMap<StoreId, RelayTarget>,
    private readonly clients: HubWriterClients,
    head: number,
  ) {
    this.relayed = new ChangeCursor(head);
    this.shareChanges = new ShareChanges(head);
  }

  /** Relays `update` of `sku`, committed as `change`, to every live session but `except`; `doc` is the hub's document after it. */
  relay(sku: Sku, update: Uint8Array, change: number, doc: Y.Doc, except?: RelayTarget): void {
    let version1: Uint8Array | null = null;
    let full: Uint8Array | null = null;
    let shares = false;
    for (const session of this.live.values()) {
      if (session === except) continue;
      if (session.readsShares) shares = true;
      else if (session.readsVersion2)
        session.sendFrame((full ??= encodeDocFrame(sku, change, SyncMessageType.Update, update)));
      else {
        // Sent even when nothing is left of the update: the store's cursor learns the change number from it.
        version1 ??= encodeDocFrame(sku, change, SyncMessageType.Update, version1Update(update, this.clients));
        session.sendFrame(version1);
      }
    }
    if (except === undefined) {
      const touched = this.touchedBy(update, doc);
      this.shareChanges.note(sku, change, touched.locations, touched.everyHolder);
      if (shares) this.relayShares(sku, update, change, touched);
    } else this.relayOwn(sku, update, change, except);
    // Only now: a cursor message must never name a change not yet sent to whoever holds it.
    this.relayed.note(change);
  }

  /** Whether a store that reads only schema version 1 is connected. */
  servesVersion1(): boolean {
    for (const session of this.live.values()) if (!session.readsVersion2) return true;
    return false;
  }

  /** Runs `flushCursors` every `everyMs` from now until `stopCursorTimer` (once started, calling again does nothing). */
  startCursorTimer(everyMs: number): void {
    if (this.cursorTimer !== null) return;
    this.cursorTimer = setInterval(() => this.flushCursors(), everyMs);
    // A timer must never keep a process alive on its own.
    if (typeof this.cursorTimer === 'object' && 'unref' in this.cursorTimer) this.cursorTimer.unref();
  }

  stopCursorTimer(): void {
    if (this.cursorTimer !== null) clearInterval(this.cursorTimer);
    this.cursorTimer = null;
  }

  /**
   * Tells each share-holding session the change number up to which it has been
   * sent every change of its share, when that moved since it was last told. The
   * hub calls it about once a minute: a store that sells hears it sooner, in its
   * acknowledgements, so a store's cursor costs a few bytes a minute whatever
   * the number of sales.
   */
  flushCursors(): void {
    for (const session of this.live.values()) {
      const cursor = this.cursorFor(session);
      if (cursor !== undefined) session.send({ type: 'cursor', cursor });
    }
  }

  /**
   * The cursor a share-holding session may move to, when it moved since the
   * session was last told (and is then counted as told): every change up to it
   * has been through `relay`, so whatever of it the store holds was sent before
   * any frame sent now. Undefined when there is nothing new to tell.
   */
  cursorFor(session: RelayTarget): number | undefined {
    const cursor = this.relayed.current;
    if (!session.readsShares || !session.isLive || (this.told.get(session) ?? 0) >= cursor) return undefined;
    this.told.set(session, cursor);
    return cursor;
  }

  /** Of the SKUs a welcome would list, those a share-holding store at `cursor` must exchange. */
  shareChanged(storeId: StoreId, cursor: number, skus: readonly Sku[]): Sku[] {
    return this.shareChanges.changedFor(storeId, cursor, skus);
  }

  /**
   * Whose share `update` touches. The registry says whose each id is: a store's
   * or an online account's is that location's; `meta`, or version 1's `hub`
   * entry in a version 1 document, is every holder's (every location the
   * document names).
   */
  private touchedBy(update: Uint8Array, doc: Y.Doc): Touched {
    const clients = updateClients(update);
    const version = schemaVersion(doc);
    const locations = new Set<string>();
    let everyHolder = false;
    for (const client of clients) {
      const owner = this.clients.owner(client);
      const account = owner === undefined ? null : parseAccountId(owner);
      if (account !== null) locations.add(account.location);
      // Version 2 readers never count `hub` (ADR 0021): its copy goes to older stores only.
      else if (owner !== 'hub' || version === 1) everyHolder = true;
    }
    if (everyHolder) {
      for (const key of ledgerOf(doc).keys()) {
        const account = parseAccountId(key);
        if (account !== null) locations.add(account.location);
      }
    }
    return { clients, version, locations, everyHolder };
  }

  /**
   * A store's update, not decoded: it carries only that store's ids (the hub
   * refuses any other), so it is in that store's share alone. Only a newer
   * session of the same store (a replica that replaced the sender) is sent it,
   * whole.
   */
  private relayOwn(sku: Sku, update: Uint8Array, change: number, from: RelayTarget): void {
    this.shareChanges.note(sku, change, new Set([from.storeId]), false);
    const own = this.live.get(from.storeId);
    if (own !== undefined && own !== from && own.readsShares) {
      own.sendFrame(encodeDocFrame(sku, change, SyncMessageType.Update, update));
    }
  }

  /** The stores whose share a hub write touches, each sent only its share of it. */
  private relayShares(sku: Sku, update: Uint8Array, change: number, touched: Touched): void {
    const { clients, version, locations } = touched;
    for (const location of locations) {
      const session = this.live.get(location as StoreId);
      if (session === undefined || !session.readsShares) continue;
      const share = this.clients.storeShare(session.storeId, version);
      let kept = 0;
      for (const client of clients) if (share.has(client)) kept++;
      if (kept === 0) continue;
      const payload = kept === clients.size ? update : filterUpdate(update, share);
      session.sendFrame(encodeDocFrame(sku, change, SyncMessageType.Update, payload));
    }
  }
}
