import {
  CloseCode,
  type ErrorCode as Code,
  type RefusalCause,
  type Sku,
  type StoreId,
  type TableCloseCode,
} from '@shelfsync/protocol';
import type * as Y from 'yjs';
import type { RateBudget } from './budget.js';
import type { ControlMessage } from './control.js';
import type { HubDocuments } from './hub-documents.js';
import { HubEngine, type HubWriteRecord, type Relay, type StoreConnection } from './hub-engine.js';
import { HubAvailability } from './hub-availability.js';
import { HubRelay } from './hub-relay.js';
import { HubSession, type HubSessionContext } from './hub-session.js';
import type { Transport } from './transport.js';

export type { HubDocuments } from './hub-documents.js';

/** Something the hub's sync did, for logs and metrics. */
export type HubSyncEvent =
  | { readonly type: 'connected'; readonly storeId: StoreId }
  | { readonly type: 'disconnected'; readonly storeId: StoreId; readonly code: number; readonly reason: string }
  | { readonly type: 'handshake'; readonly storeId: StoreId; readonly changed: number; readonly dirty: number }
  | { readonly type: 'accepted'; readonly storeId: StoreId; readonly sku: Sku; readonly bytes: number }
  | {
      readonly type: 'rejected';
      readonly storeId: StoreId;
      readonly sku: string;
      readonly code: Code;
      readonly detail: string;
    }
  | { readonly type: 'protocol-error'; readonly storeId: StoreId; readonly detail: string }
  /** A hub cluster: another node committed first; this node reads the SKU again and the store resyncs (1013). Not the store's fault. */
  | { readonly type: 'conflict'; readonly storeId: StoreId; readonly detail: string }
  | { readonly type: 'slow-consumer'; readonly storeId: StoreId; readonly bufferedAmount: number }
  /** The session sent step 1s or top-ups faster than its budget allows, and was closed with RequestBudgetExceeded. */
  | { readonly type: 'budget-exceeded'; readonly storeId: StoreId; readonly budget: 'step1' | 'topup' }
  /**
   * A store reports a sale it refused (telemetry, for display only): `at` is its
   * clock clamped into the hub's last 30 minutes; `chainAvailable` the store's view
   * of the chain's uncommitted units, null when it sent none.
   */
  | {
      readonly type: 'refused';
      readonly storeId: StoreId;
      readonly sku: Sku;
      readonly quantity: number;
      readonly cause: RefusalCause;
      readonly at: number;
      readonly chainAvailable: number | null;
    }
  /** A refusal report past the session's report budget, dropped; the session goes on. */
  | { readonly type: 'refusal-report-dropped'; readonly storeId: StoreId }
  | { readonly type: 'halted'; readonly reason: string };

export interface HubSyncOptions {
  /**
   * Rejected updates (and error reports from the store) a session may send before
   * it is closed with TooManyInvalidUpdates.
   */
  readonly maxInvalidUpdates: number;
  /** A store whose socket buffers more than this is closed with SlowConsumer; it reconnects and catches up. */
  readonly maxBufferedBytes: number;
  /** A connection that has not said hello by then is closed with HandshakeTimeout. */
  readonly handshakeTimeoutMs: number;
  /** The largest manager-override deficit per store account the hub accepts (see validateUpdate). */
  readonly maxDeficit: number;
  /**
   * Step 1s a session may send beyond its catch-up, which is free: the first step 1
   * of each SKU the welcome's `changed` and the hello's dirty list name (and of as
   * many more SKUs as the hello's dirty count exceeds its list, up to 200,000). Past
   * it the session is closed with RequestBudgetExceeded. (A step 1 waits its turn
   * behind the SKU's hub writes and costs an encode.)
   */
  readonly step1Budget: RateBudget;
  /** Top-up requests a session may send (each a hub write of the allocator); past it, RequestBudgetExceeded. */
  readonly topUpBudget: RateBudget;
  /** Refusal reports a session may send; past it they are dropped (and counted), the session stays. */
  readonly reportBudget: RateBudget;
  readonly onEvent: (event: HubSyncEvent) => void;
  /** Each of the hub's own writes once done, with its lane (`HubEngine.writeAsHub`), for metrics and traces. */
  readonly onHubWrite: (write: HubWriteRecord) => void;
  /**
   * How often a store that holds only its share is told the change cursor it may
   * move to over changes it was not sent (`cursor`), unless an acknowledgement
   * told it: a store that reconnects exchanges the SKUs changed since its cursor,
   * so this bounds the extra, at a few bytes per store per period.
   */
  readonly cursorEveryMs: number;
  /** How often stores that hold only their share are sent the availability of the SKUs that changed for them. */
  readonly summaryEveryMs: number;
  readonly now: () => number;
}

const DEFAULT_OPTIONS: HubSyncOptions = {
  maxInvalidUpdates: 20,
  maxBufferedBytes: 8 * 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  maxDeficit: 0,
  // An honest store sends step 1s outside its catch-up only to fill a gap in a
  // relayed update, or for a SKU it changed during the handshake.
  step1Budget: { burst: 2_000, perSecond: 50 },
  // A top-up is asked per sale the POS rights do not cover: far above any till's pace.
  topUpBudget: { burst: 2_000, perSecond: 200 },
  // Twice what a store sends at most (its queue drains at 100 at once, then 10 a second).
  reportBudget: { burst: 200, perSecond: 20 },
  onEvent: () => {},
  onHubWrite: () => {},
  cursorEveryMs: 60_000,
  summaryEveryMs: 5_000,
  now: () => Date.now(),
};

/** The hub's answer to a top-up: units granted now, the location's units, and the store's POS rights after it. */
export interface TopUpAnswer {
  readonly granted: number;
  readonly available: number;
  readonly rights: number;
}

/** What the hub's sync asks of the escrow allocator, when one is attached. */
export interface AllocatorHooks {
  /** A store's update of `sku` is committed, acknowledged and relayed. */
  accepted(storeId: StoreId, sku: Sku): Promise<void>;
  /** A store asks for rights for a sale; resolves once any grant is durable and relayed. */
  topUp(storeId: StoreId, sku: Sku, quantity: number): Promise<TopUpAnswer>;
}

/** What the hub knows about one store's link. */
export interface StoreLinkStatus {
  readonly storeId: StoreId;
  readonly connected: boolean;
  /** An operator cut the link (`cutLink`): the store's connections are closed until `restoreLink`. */
  readonly cut: boolean;
  /** Milliseconds since the epoch of the last frame from the store. */
  readonly lastSeen: number;
  /**
   * How stale the hub's view of the store may be, in ms: 0 while connected and
   * caught up; while the store still sends what it changed offline, the time since
   * it reconnected; offline, the time since its last frame.
   */
  readonly syncLagMs: number;
  /** SKUs the store listed as changed in its last hello that the hub has not received since. */
  readonly pendingUpdates: number;
  readonly rejectedUpdates: number;
}

interface LinkRecord {
  lastSeen: number;
  rejectedUpdates: number;
  connectedAt: number;
  /** SKUs named dirty in the store's last hello, not yet received. */
  pending: Set<string>;
}

/**
 * The hub side of the sync protocol: one session per connected store, every
 * SKU document over it. What a store's update does to the hub's document is its
 * `engine`'s: validated against the hub's document (`validateUpdate`) before it
 * is applied, made durable before it is acknowledged, and only then relayed to
 * the other stores, through this sync as the engine's `Relay`.
 */
export class HubSync implements Relay {
  /**
   * The one place this hub changes a SKU document: the stores' updates its
   * sessions hand it, and the hub's own writes (`writeAsHub`: the allocator's,
   * the reservations').
   */
  readonly engine: HubEngine;
  private readonly options: HubSyncOptions;
  private readonly live = new Map<StoreId, HubSession>();
  private readonly links = new Map<StoreId, LinkRecord>();
  private readonly cut = new Set<StoreId>();
  private haltedBecause: string | null = null;
  private allocator: AllocatorHooks | null = null;
  private stopAllocatorHearing: () => void = () => {};
  private readonly sessions: HubSessionContext;
  private readonly relayer: HubRelay;
  private readonly availability: HubAvailability;

  constructor(documents: HubDocuments, options: Partial<HubSyncOptions> = {}) {
    this.options = { ...DEFAULT_OPTIONS, ...options };
    this.relayer = new HubRelay(this.live, documents.writerClients, documents.cursor());
    this.availability = new HubAvailability(documents);
    const { maxDeficit, now, onHubWrite } = this.options;
    this.engine = new HubEngine(documents, this, { maxDeficit, now, onHubWrite });
    this.sessions = {
      hub: this,
      engine: this.engine,
      documents,
      options: this.options,
      allocator: () => this.allocator,
    };
    documents.onFailure?.((error) => this.halt(`the hub's storage failed: ${error.message}`));
  }

  /**
   * Attaches a connection already authenticated as `storeId`. A previous
   * connection of that store is replaced. A store whose link is cut is closed at
   * once with LinkCut (null): it learns why, and keeps selling from local quota.
   */
  connect(storeId: StoreId, transport: Transport): HubSession | null {
    if (this.haltedBecause !== null) {
      transport.close(CloseCode.InternalError.code, CloseCode.InternalError.reason);
      return null;
    }
    if (this.cut.has(storeId)) {
      transport.close(CloseCode.LinkCut.code, CloseCode.LinkCut.reason);
      return null;
    }
    this.live.get(storeId)?.close(CloseCode.Replaced);
    const session = new HubSession(this.sessions, storeId, transport);
    this.live.set(storeId, session);
    this.relayer.startCursorTimer(this.options.cursorEveryMs);
    this.availability.start(this.options.summaryEveryMs);
    this.touch(storeId);
    this.options.onEvent({ type: 'connected', storeId });
    return session;
  }

  /** The engine's relay: each live session but `except` gets the update as its store's protocol has it (`HubRelay`). */
  relay(sku: Sku, update: Uint8Array, change: number, doc: Y.Doc, except?: StoreConnection): void {
    this.relayer.relay(sku, update, change, doc, except instanceof HubSession ? except : undefined);
    this.availability.changed(sku);
  }

  /** @internal For a session whose store holds its share: which of a welcome's SKUs changed that share. */
  shareChanged(session: HubSession): ((cursor: number, skus: readonly Sku[]) => Sku[]) | undefined {
    if (!session.readsShares) return undefined;
    return (cursor, skus) => this.relayer.shareChanged(session.storeId, cursor, skus);
  }

  /** Sends the availability summary now (also every `summaryEveryMs`); resolves once it is sent. */
  flushAvailability(): Promise<void> {
    return this.availability.flush();
  }

  /** @internal The store follows `skus` (its `follow` message). */
  follow(session: HubSession, skus: readonly Sku[]): void {
    this.availability.follow(session, skus);
  }

  /** Tells each store that holds only its share how far its cursor may move now (also every `cursorEveryMs`). */
  flushCursors(): void {
    this.relayer.flushCursors();
  }

  /** @internal The cursor to tell `session` in its next acknowledgement, if it moved since it was last told. */
  cursorFor(session: HubSession): number | undefined {
    return this.relayer.cursorFor(session);
  }

  servesVersion1(): boolean {
    return this.relayer.servesVersion1();
  }

  /**
   * Attaches the escrow allocator (replacing one attached before): top-up
   * requests go to it, and it hears of every store update the engine commits.
   */
  useAllocator(allocator: AllocatorHooks): void {
    this.stopAllocatorHearing();
    this.allocator = allocator;
    this.stopAllocatorHearing = this.engine.onStoreUpdate((storeId, sku) => {
      // Not awaited: rebalancing waits on hub writes, and must not hold up the store's frames.
      allocator.accepted(storeId, sku).catch((error: unknown) => {
        this.options.onEvent({ type: 'protocol-error', storeId, detail: `allocator: ${String(error)}` });
      });
    });
  }

  /** Sends a control message to a store if it is connected; false if it is not. */
  send(storeId: StoreId, message: ControlMessage): boolean {
    const session = this.live.get(storeId);
    if (session === undefined || !session.isLive) return false;
    session.send(message);
    return true;
  }

  /** Bytes queued on each live store's socket, not yet sent (a store reading slowly shows here first). */
  bufferedBytes(): [StoreId, number][] {
    return [...this.live].map(([storeId, session]) => [storeId, session.bufferedAmount]);
  }

  /**
   * Cuts a store's link, as a partition would (tests, drills): closes its live
   * session with LinkCut and closes every reconnection the same way until
   * `restoreLink`. False if the hub has never heard from the store.
   */
  cutLink(storeId: StoreId): boolean {
    if (!this.links.has(storeId)) return false;
    this.cut.add(storeId);
    this.live.get(storeId)?.close(CloseCode.LinkCut);
    return true;
  }

  /**
   * Closes a store's live session with `closeCode` (its credentials expired or
   * were revoked: Unauthorized), only if it is `session` when one is given, so
   * a timer of an older session never closes a newer one. False if nothing closed.
   */
  closeStore(storeId: StoreId, closeCode: TableCloseCode, session?: HubSession): boolean {
    const live = this.live.get(storeId);
    if (live === undefined || (session !== undefined && live !== session)) return false;
    live.close(closeCode);
    return true;
  }

  /**
   * Stops syncing for good: the hub's storage failed, so its documents in memory
   * may hold changes its disk lacks, and nothing more may leave them. Every
   * session closes (`4500`) and new ones are refused until the hub is restarted.
   */
  halt(reason: string): void {
    if (this.haltedBecause !== null) return;
    this.haltedBecause = reason;
    this.relayer.stopCursorTimer();
    this.availability.stop();
    for (const session of [...this.live.values()]) session.close(CloseCode.InternalError);
    this.options.onEvent({ type: 'halted', reason });
  }

  get halted(): string | null {
    return this.haltedBecause;
  }

  /** Lets a cut store connect again (it does so on its next retry). False if the hub has never heard from it. */
  restoreLink(storeId: StoreId): boolean {
    if (!this.links.has(storeId)) return false;
    this.cut.delete(storeId);
    return true;
  }

  /** Every store the hub has heard from since it started, connected or not. */
  storeLinks(): StoreLinkStatus[] {
    const now = this.options.now();
    return [...this.links].map(([storeId, link]) => {
      const session = this.live.get(storeId);
      const connected = session !== undefined;
      const caughtUp = connected && session.isLive && link.pending.size === 0;
      return {
        storeId,
        connected,
        cut: this.cut.has(storeId),
        lastSeen: link.lastSeen,
        syncLagMs: caughtUp ? 0 : Math.max(0, now - (connected ? link.connectedAt : link.lastSeen)),
        pendingUpdates: link.pending.size,
        rejectedUpdates: link.rejectedUpdates,
      };
    });
  }

  /** Closes every session (hub shutdown). */
  close(): void {
    this.relayer.stopCursorTimer();
    this.availability.stop();
    for (const session of [...this.live.values()]) session.close(CloseCode.GoingAway);
  }

  /** @internal */
  touch(storeId: StoreId): void {
    const link = this.links.get(storeId);
    const now = this.options.now();
    if (link === undefined)
      this.links.set(storeId, { lastSeen: now, rejectedUpdates: 0, connectedAt: now, pending: new Set() });
    else link.lastSeen = now;
  }

  /** @internal The store said hello: what it lists as changed offline is pending until it arrives. */
  handshaken(storeId: StoreId, dirty: readonly string[]): void {
    const link = this.links.get(storeId);
    if (link === undefined) return;
    link.connectedAt = this.options.now();
    link.pending = new Set(dirty);
  }

  /** @internal The store sent its changes of `sku`. */
  received(storeId: StoreId, sku: string): void {
    this.links.get(storeId)?.pending.delete(sku);
  }

  /** @internal */
  countRejected(storeId: StoreId): void {
    const link = this.links.get(storeId);
    if (link !== undefined) link.rejectedUpdates++;
  }

  /** @internal */
  detach(session: HubSession): void {
    if (this.live.get(session.storeId) === session) this.live.delete(session.storeId);
    this.availability.forget(session);
  }
}
