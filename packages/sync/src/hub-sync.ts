import { validateUpdate } from '@shelfsync/core';
import {
  CloseCode,
  ErrorCode,
  SkuSchema,
  storeWriter,
  writerKey,
  type ErrorCode as Code,
  type Sku,
  type StoreId,
  type WriterKey,
} from '@shelfsync/protocol';
import type { StorageWrite } from '@shelfsync/storage';
import * as Y from 'yjs';
import { TokenBucket, type RateBudget } from './budget.js';
import { PROTOCOL_VERSION, type ControlMessage, type Hello, type TopUp } from './control.js';
import {
  FrameError,
  SyncMessageType,
  decodeFrame,
  encodeControlFrame,
  encodeDocFrame,
  type DocFrame,
} from './frames.js';
import type { Transport } from './transport.js';
import { MAX_TOP_UPS_IN_FLIGHT, PendingTopUps } from './hub-top-ups.js';

/** What the hub's sync needs from the hub's storage. */
export interface HubDocuments {
  /** This hub's data lineage: a new epoch means change cursors from before mean nothing. */
  readonly epoch: string;
  /** The SKU's document, loaded on first use (an empty one for a new SKU). */
  open(sku: Sku): Promise<Y.Doc>;
  /**
   * Makes `update`, already applied to the SKU's document, durable, and records
   * the change in the change log. Resolves, once durable, with its change number.
   */
  commit(sku: Sku, update: Uint8Array, extra?: readonly StorageWrite[]): Promise<number>;
  /**
   * Runs one of the hub's own writes of `sku` (decide, apply, commit) after every
   * earlier one of that SKU is done and durable, and before any later one starts.
   */
  hubWrite<T>(sku: Sku, write: () => Promise<T>): Promise<T>;
  /**
   * Runs `read` on the SKU's document while none of the hub's own writes of it is
   * in flight (they queue behind it), so what it encodes holds no change of the
   * hub's client id that a crash could take back: the hub would reuse those clock
   * numbers for other changes after a restart, and peers holding the lost ones
   * would diverge for good. Rejects once the storage has failed. Store changes in
   * flight may ride along: they are durable at their store.
   */
  readDurable<T>(sku: Sku, read: () => T): Promise<T>;
  /**
   * The writer a Yjs client id is reserved to in every document, from the hub's
   * durable registry (the hub's own id from the start), or undefined.
   */
  clientOwner(client: number): WriterKey | undefined;
  /**
   * Reserves `clients` to `writer` now, so no other writer's update under one of
   * them is accepted from this moment, and returns the storage writes that record
   * them: pass them to the `commit` of the update that uses them. Idempotent for
   * ids already reserved to `writer`. A string says why the update is refused
   * instead (more than one new id, or more ids than one writer may hold).
   */
  reserveClients(writer: WriterKey, clients: readonly number[]): StorageWrite[] | string;
  /** Calls `listener` once, when the first commit fails (HubSync then halts). */
  onFailure?(listener: (error: Error) => void): void;
  /** Calls `listener` after every durable commit; returns the unsubscribe. */
  onCommit(listener: (sku: Sku) => void): () => void;
  /** The newest change number (0 before any). */
  cursor(): number;
  /** The SKUs changed after change number `cursor`. */
  changedSince(cursor: number): Sku[];
  /** Every SKU the hub holds. */
  allSkus(): Sku[];
}

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
  | { readonly type: 'slow-consumer'; readonly storeId: StoreId; readonly bufferedAmount: number }
  /** The session sent step 1s or top-ups faster than its budget allows, and was closed with RequestBudgetExceeded. */
  | { readonly type: 'budget-exceeded'; readonly storeId: StoreId; readonly budget: 'step1' | 'topup' }
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
   * it the session is closed with RequestBudgetExceeded. (A step 1 costs a lane job
   * and an encode.)
   */
  readonly step1Budget: RateBudget;
  /** Top-up requests a session may send (each a lane job of the allocator); past it, RequestBudgetExceeded. */
  readonly topUpBudget: RateBudget;
  readonly onEvent: (event: HubSyncEvent) => void;
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
  onEvent: () => {},
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
  /** A store's update of `sku` is committed (and acknowledged). */
  accepted(storeId: StoreId, sku: Sku): Promise<void>;
  /** A store asks for rights for a sale; resolves once any grant is durable and relayed. */
  topUp(storeId: StoreId, sku: Sku, quantity: number): Promise<TopUpAnswer>;
}

/**
 * Free step 1s for dirty SKUs a hello counted but could not list (past its list
 * bound): a store changed that many more offline. Beyond this they take tokens.
 */
const MAX_UNLISTED_FREE = 200_000;

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
 * SKU document over it. Every update a store sends is validated against the
 * hub's document (`validateUpdate`) before it is applied, made durable before it
 * is acknowledged, and only then relayed to the other stores.
 */
export class HubSync {
  private readonly options: HubSyncOptions;
  private readonly live = new Map<StoreId, HubSession>();
  private readonly links = new Map<StoreId, LinkRecord>();
  private readonly cut = new Set<StoreId>();
  private haltedBecause: string | null = null;
  /** @internal */
  allocator: AllocatorHooks | null = null;

  constructor(
    private readonly documents: HubDocuments,
    options: Partial<HubSyncOptions> = {},
  ) {
    this.options = { ...DEFAULT_OPTIONS, ...options };
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
    const session = new HubSession(this, this.documents, this.options, storeId, transport);
    this.live.set(storeId, session);
    this.touch(storeId);
    this.options.onEvent({ type: 'connected', storeId });
    return session;
  }

  /**
   * Sends an update the hub has committed, with its change number, to every live
   * store except `except`.
   */
  broadcast(sku: Sku, update: Uint8Array, change: number, except?: HubSession): void {
    const frame = encodeDocFrame(sku, change, SyncMessageType.Update, update);
    for (const session of this.live.values()) if (session !== except) session.sendFrame(frame);
  }

  /** Attaches the escrow allocator: top-up requests go to it, and it hears of every accepted update. */
  useAllocator(allocator: AllocatorHooks): void {
    this.allocator = allocator;
  }

  /** Sends a control message to a store if it is connected; false if it is not. */
  send(storeId: StoreId, message: ControlMessage): boolean {
    const session = this.live.get(storeId);
    if (session === undefined || !session.isLive) return false;
    session.sendFrame(encodeControlFrame(message));
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
  closeStore(storeId: StoreId, closeCode: { code: number; reason: string }, session?: HubSession): boolean {
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
  }
}

/** One store's connection at the hub. Frames are processed one at a time, in order. */
export class HubSession {
  private state: 'handshake' | 'live' | 'closed' = 'handshake';
  /** Past the handshake at some point: its doc frames came from an authenticated, live store. */
  private wasLive = false;
  /**
   * The hub ended the session (cut, refusals, slow reader, replaced, halted,
   * shutting down): frames still queued are dropped, as a partition would drop
   * them, and the store sends them again on its next connection.
   */
  private closedByHub = false;
  private queue: Promise<void> = Promise.resolve();
  private invalid = 0;
  /** SKUs the handshake named (the welcome's changed, the hello's dirty): the first step 1 of each is free. */
  private catchUp = new Set<string>();
  /** Dirty SKUs the hello counted but could not list: the first step 1 of this many other SKUs is free. */
  private unlistedFree = 0;
  /** SKUs whose free step 1 was taken, while unlisted ones are free. */
  private readonly unlistedAsked = new Set<string>();
  private readonly step1s: TokenBucket;
  private readonly topUps: TokenBucket;
  private readonly pendingTopUps: PendingTopUps;
  private readonly handshakeTimer: ReturnType<typeof setTimeout>;

  constructor(
    private readonly hub: HubSync,
    private readonly documents: HubDocuments,
    private readonly options: HubSyncOptions,
    readonly storeId: StoreId,
    private readonly transport: Transport,
  ) {
    this.step1s = new TokenBucket(options.step1Budget, options.now);
    this.topUps = new TokenBucket(options.topUpBudget, options.now);
    this.pendingTopUps = new PendingTopUps(documents);
    transport.onMessage((bytes) => {
      this.queue = this.queue
        .then(() => this.handle(bytes))
        .catch((error: unknown) => {
          this.options.onEvent({ type: 'protocol-error', storeId, detail: `internal: ${String(error)}` });
          this.close(CloseCode.InternalError);
        });
    });
    transport.onClose((code, reason) => {
      clearTimeout(this.handshakeTimer);
      this.pendingTopUps.endAll();
      this.state = 'closed';
      this.hub.detach(this);
      this.options.onEvent({ type: 'disconnected', storeId, code, reason });
    });
    this.handshakeTimer = setTimeout(() => {
      if (this.state === 'handshake') this.close(CloseCode.HandshakeTimeout);
    }, options.handshakeTimeoutMs);
    // A timer must never keep a process alive on its own.
    if (typeof this.handshakeTimer === 'object' && 'unref' in this.handshakeTimer) this.handshakeTimer.unref();
  }

  get isLive(): boolean {
    return this.state === 'live';
  }

  get bufferedAmount(): number {
    return this.transport.bufferedAmount;
  }

  /** Closes the session with a named close code. */
  close(closeCode: { code: number; reason: string }): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closedByHub = true;
    clearTimeout(this.handshakeTimer);
    this.pendingTopUps.endAll();
    this.hub.detach(this);
    this.transport.close(closeCode.code, closeCode.reason);
  }

  /** @internal Sends a frame unless the store reads too slowly, in which case it is dropped from the hub. */
  sendFrame(frame: Uint8Array): void {
    if (this.state !== 'live') return;
    if (this.transport.bufferedAmount > this.options.maxBufferedBytes) {
      this.options.onEvent({
        type: 'slow-consumer',
        storeId: this.storeId,
        bufferedAmount: this.transport.bufferedAmount,
      });
      this.close(CloseCode.SlowConsumer);
      return;
    }
    this.transport.send(frame);
  }

  private send(message: ControlMessage): void {
    this.sendFrame(encodeControlFrame(message));
  }

  private protocolError(detail: string, closeCode: { code: number; reason: string } = CloseCode.BadRequest): void {
    this.options.onEvent({ type: 'protocol-error', storeId: this.storeId, detail });
    if (this.state === 'live') this.send({ type: 'error', code: ErrorCode.ValidationFailed, detail });
    this.close(closeCode);
  }

  private async handle(bytes: Uint8Array): Promise<void> {
    if (this.state === 'closed') {
      await this.handleAfterClose(bytes);
      return;
    }
    this.hub.touch(this.storeId);
    let frame;
    try {
      frame = decodeFrame(bytes);
    } catch (error) {
      this.protocolError(error instanceof FrameError ? error.message : String(error));
      return;
    }
    if (this.state === 'handshake') {
      if (frame.kind !== 'control' || frame.message.type !== 'hello') {
        this.protocolError('the first frame must be hello');
        return;
      }
      this.welcome(frame.message);
      return;
    }
    if (frame.kind === 'control') {
      if (frame.message.type === 'error') {
        this.options.onEvent({
          type: 'protocol-error',
          storeId: this.storeId,
          detail: `store reports ${frame.message.code}: ${frame.message.detail}`,
        });
        // Each one is logged: a flood of them counts like refused updates.
        this.countInvalid();
        return;
      }
      if (frame.message.type === 'topup') {
        if (this.pendingTopUps.inFlight >= MAX_TOP_UPS_IN_FLIGHT || !this.topUps.take()) {
          this.overBudget('topup');
          return;
        }
        this.handleTopUp(frame.message);
        return;
      }
      this.protocolError(`unexpected ${frame.message.type} from a store`);
      return;
    }
    if (frame.type === SyncMessageType.Step1 && !this.takeStep1(frame.sku)) {
      this.overBudget('step1');
      return;
    }
    await this.handleDoc(frame);
  }

  /**
   * The catch-up's step 1s are free, once per SKU it covers: a count the store
   * claims buys no repeated asks. Any other step 1 takes a token.
   */
  private takeStep1(sku: string): boolean {
    if (this.catchUp.delete(sku)) {
      // Kept only while unlisted ones are free: it must not take one of those again.
      if (this.unlistedFree > 0) this.unlistedAsked.add(sku);
      return true;
    }
    if (this.unlistedFree > 0 && !this.unlistedAsked.has(sku)) {
      this.unlistedFree--;
      this.unlistedAsked.add(sku);
      return true;
    }
    return this.step1s.take();
  }

  private overBudget(budget: 'step1' | 'topup'): void {
    this.options.onEvent({ type: 'budget-exceeded', storeId: this.storeId, budget });
    this.send({
      type: 'error',
      code: ErrorCode.RateLimited,
      detail: `${budget === 'step1' ? 'step 1' : 'top-up'} requests above this session's budget`,
    });
    this.close(CloseCode.RequestBudgetExceeded);
  }

  /**
   * A frame that arrived before the store closed the connection but waited in
   * the queue behind slower ones (hub writes). A store's change in it is durable
   * at the store and is validated like any other, so it is applied now rather
   * than at the store's next connection: a store that stopped syncing because its
   * disk failed may not come back for hours, and the chain would not see sales it
   * acknowledged. Nothing is answered: requests (step 1, top-ups) end with the
   * connection. When the hub closed the session, nothing more is taken from it.
   */
  private async handleAfterClose(bytes: Uint8Array): Promise<void> {
    if (!this.wasLive || this.closedByHub || this.hub.halted !== null) return;
    let frame;
    try {
      frame = decodeFrame(bytes);
    } catch {
      return;
    }
    if (frame.kind === 'doc' && frame.type !== SyncMessageType.Step1) await this.handleDoc(frame);
  }

  /**
   * Off the session's queue: the store's changes the request names may still be
   * behind it in that queue (a SKU catching up sends them after its step 2), and
   * the answer must wait until they are applied, or the hub would judge on sales
   * it has not seen. Frames still go out in order: a grant is relayed inside the
   * hub's write, before this answer is sent.
   */
  private handleTopUp(request: TopUp): void {
    this.answerTopUp(request).catch((error: unknown) => {
      this.options.onEvent({ type: 'protocol-error', storeId: this.storeId, detail: `top-up: ${String(error)}` });
    });
  }

  private async answerTopUp(request: TopUp): Promise<void> {
    await this.pendingTopUps.holding(request.sku, request.client, request.clock);
    if (!this.isLive) return;
    const allocator = this.hub.allocator;
    const answer: TopUpAnswer =
      allocator === null
        ? { granted: 0, available: 0, rights: 0 }
        : await allocator.topUp(this.storeId, request.sku, request.quantity);
    // The hub's changes so far, the grant's included: the store waits until it holds them.
    const doc = await this.documents.open(request.sku);
    const hub = { client: doc.clientID, clock: Y.getState(doc.store, doc.clientID) };
    this.send({ type: 'topup-result', ref: request.ref, sku: request.sku, ...answer, ...hub });
  }

  private welcome(hello: Hello): void {
    if (hello.protocol !== PROTOCOL_VERSION) {
      this.send({
        type: 'error',
        code: ErrorCode.ValidationFailed,
        detail: `protocol ${hello.protocol} unsupported; this hub speaks ${PROTOCOL_VERSION}`,
      });
      this.protocolError(`unsupported protocol ${hello.protocol}`, CloseCode.UnsupportedProtocol);
      return;
    }
    if (hello.storeId !== this.storeId) {
      this.protocolError(`hello names store ${hello.storeId}, the token ${this.storeId}`, CloseCode.Forbidden);
      return;
    }
    clearTimeout(this.handshakeTimer);
    this.state = 'live';
    this.wasLive = true;
    this.hub.handshaken(this.storeId, hello.dirty);
    const sameLineage = hello.epoch === this.documents.epoch;
    const changed = sameLineage ? this.documents.changedSince(hello.cursor) : this.documents.allSkus();
    // The store sends a step 1 for each SKU of changed ∪ dirty: those are free.
    this.catchUp = new Set([...changed, ...hello.dirty]);
    this.unlistedFree = Math.min(MAX_UNLISTED_FREE, Math.max(0, (hello.dirtyTotal ?? 0) - hello.dirty.length));
    this.send({
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      epoch: this.documents.epoch,
      cursor: this.documents.cursor(),
      changed,
      overrideCap: this.options.maxDeficit,
    });
    this.options.onEvent({
      type: 'handshake',
      storeId: this.storeId,
      changed: changed.length,
      dirty: hello.dirty.length,
    });
  }

  private async handleDoc(frame: DocFrame): Promise<void> {
    const sku = SkuSchema.safeParse(frame.sku);
    if (!sku.success) {
      this.reject(frame, ErrorCode.ValidationFailed, `"${frame.sku.slice(0, 80)}" is not a SKU`);
      return;
    }
    const doc = await this.documents.open(sku.data);
    if (frame.type === SyncMessageType.Step1) {
      if (this.state === 'closed') return;
      let diff: Uint8Array | null;
      try {
        diff = await this.documents.readDurable(sku.data, () => {
          try {
            return Y.encodeStateAsUpdate(doc, frame.payload);
          } catch {
            return null;
          }
        });
      } catch {
        return; // the storage failed: the hub halts, and this session with it
      }
      if (diff === null) {
        this.reject(frame, ErrorCode.ValidationFailed, 'step 1 carries a malformed state vector');
        return;
      }
      // Closed meanwhile? (Read through the getter: TypeScript keeps its narrowing across the await.)
      if (!this.isLive) return;
      this.sendFrame(encodeDocFrame(sku.data, 0, SyncMessageType.Step2, diff));
      this.sendFrame(encodeDocFrame(sku.data, 0, SyncMessageType.Step1, Y.encodeStateVector(doc)));
      this.ack(frame.ref);
      return;
    }

    // Accepted or not, the store has sent what it had for this SKU: it is no longer pending.
    this.hub.received(this.storeId, sku.data);
    const writer = storeWriter(this.storeId);
    const verdict = validateUpdate(doc, frame.payload, writer, {
      maxDeficit: this.options.maxDeficit,
      clientOwner: (client) => this.documents.clientOwner(client),
    });
    if (!verdict.ok) {
      this.reject(frame, verdict.error.code, verdict.error.detail);
      return;
    }
    if (verdict.value.changed) {
      // In the same tick as the verdict: no other writer's update can claim these ids in between.
      const reservations = this.documents.reserveClients(writerKey(writer), verdict.value.clients);
      if (typeof reservations === 'string') {
        this.reject(frame, ErrorCode.UpdateClientIdTaken, reservations);
        return;
      }
      // Relay what actually changed (Yjs' own incremental update), not the
      // store's bytes: a step 2 also carries the store's whole delete set.
      let applied: Uint8Array | null = null;
      const capture = (update: Uint8Array, origin: unknown): void => {
        if (origin === this) applied = update;
      };
      doc.on('update', capture);
      try {
        Y.applyUpdate(doc, frame.payload, this);
      } finally {
        doc.off('update', capture);
      }
      const committed = applied ?? frame.payload;
      const change = await this.documents.commit(sku.data, committed, reservations);
      this.options.onEvent({ type: 'accepted', storeId: this.storeId, sku: sku.data, bytes: frame.payload.byteLength });
      this.ack(frame.ref, change);
      this.hub.broadcast(sku.data, committed, change, this);
      // Off the session's queue: rebalancing waits on hub writes, and must not hold up this store's frames.
      this.hub.allocator?.accepted(this.storeId, sku.data).catch((error: unknown) => {
        this.options.onEvent({ type: 'protocol-error', storeId: this.storeId, detail: `allocator: ${String(error)}` });
      });
      return;
    }
    this.ack(frame.ref);
  }

  private ack(ref: number, change?: number): void {
    if (ref > 0) this.send(change === undefined ? { type: 'ack', ref } : { type: 'ack', ref, change });
  }

  private reject(frame: DocFrame, code: Code, detail: string): void {
    this.hub.countRejected(this.storeId);
    this.options.onEvent({ type: 'rejected', storeId: this.storeId, sku: frame.sku, code, detail });
    const sku = SkuSchema.safeParse(frame.sku);
    this.send({
      type: 'error',
      code,
      detail,
      ...(sku.success ? { sku: sku.data } : {}),
      ...(frame.ref > 0 ? { ref: frame.ref } : {}),
    });
    this.ack(frame.ref);
    this.countInvalid();
  }

  private countInvalid(): void {
    this.invalid++;
    if (this.invalid > this.options.maxInvalidUpdates) this.close(CloseCode.TooManyInvalidUpdates);
  }
}
