import {
  CloseCode,
  type ErrorCode,
  Recovery,
  SkuSchema,
  recoveryByErrorCode,
  type Sku,
  type StoreId,
  type TableCloseCode,
} from '@shelfsync/protocol';
import * as Y from 'yjs';
import {
  HELLO_DIRTY_BYTES,
  MAX_HELLO_DIRTY,
  MAX_SKU_LIST,
  PROTOCOL_VERSION,
  forProtocol,
  type ControlMessage,
  type Hello,
  type TopUpResult,
  type Welcome,
} from './control.js';
import {
  FrameError,
  SyncMessageType,
  decodeFrame,
  encodeControlFrame,
  encodeDocFrame,
  type DocFrame,
} from './frames.js';
import type { Transport } from './transport.js';
import { TokenBucket, type RateBudget } from './budget.js';
import { StoreRefusalReports, type RefusalReport } from './store-refusal-reports.js';

/** A SKU the hub found out of step is resynced at most this often. */
const RESYNC_INTERVAL_MS = 5_000;

/** Top-ups a store asks for at most: half the hub's per-session budget's rate, a quarter of its burst. */
const STORE_TOP_UP_BUDGET: RateBudget = { burst: 500, perSecond: 100 };

/** What a store's sync needs from the store's storage. */
export interface StoreDocuments {
  /** The SKU's document, loaded on first use (an empty one for a SKU new to this store). */
  open(sku: Sku): Promise<Y.Doc>;
  /** Applies an update received from the hub to the SKU's document and makes it durable; resolves with the document. */
  applyRemote(sku: Sku, update: Uint8Array): Promise<Y.Doc>;
  /** The SKUs with local changes the hub may not hold (kept durably by the caller with each local update). */
  dirty(): Promise<Sku[]>;
  /**
   * The hub holds every local change of these SKUs made before this call.
   * Implementations must issue their storage write before their first await, so
   * that a local change recorded after the call is never cleaned by it.
   */
  markClean(skus: readonly Sku[]): Promise<void>;
  /** The hub change cursor this store last caught up to. */
  loadCursor(): Promise<{ epoch: string | null; cursor: number }>;
  saveCursor(epoch: string, cursor: number): Promise<void>;
}

/** A change the hub refused, as its `error` frame says: a code and a sentence (frames carry no details). */
export interface HubRefusal {
  readonly code: ErrorCode;
  readonly detail: string;
}

/** Something the store's sync did, for logs, metrics and tests. */
export type StoreSyncEvent =
  | { readonly type: 'live'; readonly changed: number; readonly dirty: number }
  | { readonly type: 'caught-up'; readonly cursor: number; readonly skus: number }
  /** `repeated`: the SKU's last refusal, since it was last accepted, had the same code. */
  | { readonly type: 'rejected'; readonly sku: string; readonly error: HubRefusal; readonly repeated: boolean }
  | { readonly type: 'protocol-error'; readonly detail: string }
  | { readonly type: 'closed'; readonly code: number; readonly reason: string }
  /** Refusal reports dropped from the full queue since the last such event; said when the queue drains again. */
  | { readonly type: 'refusal-reports-dropped'; readonly count: number }
  | { readonly type: 'halted'; readonly reason: string };

export interface StoreSyncOptions {
  readonly onEvent: (event: StoreSyncEvent) => void;
  readonly now: () => number;
  /** The hub asks the store to bring its POS rights of `sku` down to `target` (store:X > online:X). */
  readonly onRelease: (sku: Sku, target: number, hub?: { readonly client: number; readonly clock: number }) => void;
  /** Seconds from sending local changes to the hub's acknowledgement that they are durable there (sync lag). */
  readonly onAcked: (seconds: number) => void;
  /**
   * The protocol version this store speaks, within MIN_PROTOCOL_VERSION..PROTOCOL_VERSION
   * (default the newest): an older one keeps a store's traffic as a store of that
   * version sends it, for a hub that has not been upgraded yet, and for tests.
   */
  readonly protocol: number;
}

/** The store's view of its link to the hub. */
export interface StoreSyncStatus {
  /** A connection is attached and past the handshake. */
  readonly connected: boolean;
  /** Connected, and every SKU changed on either side while apart has been exchanged. */
  readonly caughtUp: boolean;
  /** Milliseconds since the epoch when the store was last known to be in step with the hub, or null. */
  readonly lastSyncedAt: number | null;
  readonly cursor: number;
  /** SKUs whose local changes the hub refused, with the last refusal. */
  readonly rejected: ReadonlyMap<string, HubRefusal>;
  /** Why syncing stopped for good (a local change could not be stored), or null. */
  readonly halted: string | null;
}

/**
 * The store side of the sync protocol. Long-lived: `attach` it to each new
 * connection. On every connection it says hello with its change cursor and
 * dirty SKUs, then exchanges step 1 / step 2 for exactly the SKUs changed on
 * either side while apart, so catch-up follows what changed, not the catalog.
 * Local changes go out as they happen (`localUpdate`, called once they are durable).
 */
export class StoreSync {
  private readonly options: StoreSyncOptions;
  private session: StoreSession | null = null;
  private lastSyncedAt: number | null = null;
  /**
   * The hub's manager-override cap, as its last welcome said (null: not heard since
   * start). A store overrides at most this much, or the hub would refuse the SKU's updates.
   */
  hubOverrideCap: number | null = null;
  private cursor = 0;
  private readonly rejected = new Map<string, HubRefusal>();
  /** Per SKU, the send of its latest local update, which the next one waits for. */
  private readonly sendOrder = new Map<string, Promise<unknown>>();
  private haltedBecause: string | null = null;
  private nextTopUp = 1;
  private readonly topUps = new Map<number, (result: TopUpResult | null) => void>();
  private readonly topUpsInFlight = new Map<Sku, Promise<TopUpResult | null>>();
  private readonly topUpBudget: TokenBucket;
  private readonly refusals: StoreRefusalReports;

  constructor(
    readonly storeId: StoreId,
    private readonly documents: StoreDocuments,
    options: Partial<StoreSyncOptions> = {},
  ) {
    this.options = {
      onEvent: () => {},
      now: () => Date.now(),
      onRelease: () => {},
      onAcked: () => {},
      protocol: PROTOCOL_VERSION,
      ...options,
    };
    this.topUpBudget = new TokenBucket(STORE_TOP_UP_BUDGET, this.options.now);
    this.refusals = new StoreRefusalReports(
      this.options.now,
      () => {
        const session = this.session;
        if (session === null || !session.isCaughtUp || this.haltedBecause !== null) return null;
        return (report) => session.sendControl(report);
      },
      (count) => this.options.onEvent({ type: 'refusal-reports-dropped', count }),
    );
  }

  /** Starts a session on a fresh connection; a previous one is closed. */
  attach(transport: Transport): void {
    if (this.haltedBecause !== null) {
      transport.close(CloseCode.InternalError.code, CloseCode.InternalError.reason);
      return;
    }
    this.session?.close(CloseCode.GoingAway);
    const session = new StoreSession(this, this.documents, this.options, transport);
    this.session = session;
    session.start();
  }

  /**
   * Hands over a local update, to be sent once `durable` resolves (nothing leaves
   * before it is on disk) and after every earlier update of the same SKU: the
   * hub refuses an update whose predecessor it has not seen, and concurrent
   * writes can become durable in another order than they were made. Sent now
   * when connected, else at the next catch-up.
   */
  localUpdate(sku: Sku, update: Uint8Array, durable: Promise<unknown> = Promise.resolve()): void {
    const previous = this.sendOrder.get(sku) ?? Promise.resolve();
    const sent = Promise.all([previous, durable]).then(
      () => {
        if (this.haltedBecause === null) this.session?.localUpdate(sku, update);
      },
      // Not durable: never sent, and nothing else is either. The document in
      // memory holds the change the disk lacks, so any later step 2 could carry
      // it to the hub; a restart recovers the durable state.
      (error: unknown) => this.halt(`a local change of ${sku} could not be stored: ${String(error)}`),
    );
    this.sendOrder.set(sku, sent);
    void sent.then(() => {
      if (this.sendOrder.get(sku) === sent) this.sendOrder.delete(sku);
    });
  }

  /**
   * Asks the hub for rights for a sale of `quantity` units of `sku` that the
   * store's rights do not cover. The request names this store's changes of the
   * SKU so far, which the hub applies before it decides. Resolves with the hub's
   * answer (frames arrive in order, so a grant it made is applied here by then,
   * unless the SKU is catching up); with null at once when not connected, or when
   * no answer came within `timeoutMs`.
   */
  async requestTopUp(sku: Sku, quantity: number, timeoutMs: number): Promise<TopUpResult | null> {
    // One request per SKU in flight: concurrent sales share its answer and judge again on it.
    const pending = this.topUpsInFlight.get(sku);
    if (pending !== undefined) return pending;
    // Well inside the hub's per-session budget, so a rush at the tills never gets the link closed (4420).
    if (!this.topUpBudget.take()) return null;
    const asked = this.sendTopUp(sku, quantity, timeoutMs);
    this.topUpsInFlight.set(sku, asked);
    void asked.then(() => {
      if (this.topUpsInFlight.get(sku) === asked) this.topUpsInFlight.delete(sku);
    });
    return asked;
  }

  private async sendTopUp(sku: Sku, quantity: number, timeoutMs: number): Promise<TopUpResult | null> {
    const doc = await this.documents.open(sku);
    const session = this.session;
    if (session === null || !session.isLive || this.haltedBecause !== null) return null;
    const ref = this.nextTopUp++;
    const client = doc.clientID;
    const clock = Y.getState(doc.store, client);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(null), timeoutMs);
      const finish = (result: TopUpResult | null): void => {
        clearTimeout(timer);
        this.topUps.delete(ref);
        resolve(result);
      };
      this.topUps.set(ref, finish);
      session.sendControl({ type: 'topup', ref, sku, quantity, client, clock });
    });
  }

  /** @internal */
  topUpAnswered(result: TopUpResult): void {
    this.topUps.get(result.ref)?.(result);
  }

  /** @internal A connection ended: no pending top-up will be answered on it. */
  abandonTopUps(): void {
    for (const finish of [...this.topUps.values()]) finish(null);
  }

  /**
   * Tells the hub of a sale refused for want of rights, for its chain view (which
   * otherwise never learns of refusals made while cut off, or after a top-up that
   * did not settle). Best effort: queued in memory (the latest 256; older ones are
   * dropped and counted) and sent once connected and caught up, so the hub judges
   * the chain on a document that holds this store's sales; a restart loses the
   * queue. `at` defaults to now.
   */
  reportRefusal(refusal: RefusalReport): void {
    this.refusals.add(refusal);
  }

  /** Refusal reports dropped from the full queue since this store started. */
  get refusalReportsDropped(): number {
    return this.refusals.dropped;
  }

  /** Refusal reports waiting for the hub. */
  get refusalReportsQueued(): number {
    return this.refusals.queued;
  }

  /** @internal Caught up: refusals made while apart can go (the hub now holds this store's sales). */
  sendReports(): void {
    this.refusals.flush();
  }

  /**
   * Stops syncing for good: the current connection closes and no new one is
   * taken. For when local storage failed and memory may hold what disk does not.
   */
  halt(reason: string): void {
    if (this.haltedBecause !== null) return;
    this.haltedBecause = reason;
    this.session?.close(CloseCode.InternalError);
    this.session = null;
    this.options.onEvent({ type: 'halted', reason });
  }

  /**
   * Resolves once every local change of `sku` made so far is durable (or failed,
   * which halts). Whatever the store sends from its document must wait for this:
   * the hub may never hold a change the store could lose in a crash.
   */
  async localSettled(sku: string): Promise<void> {
    for (let pending = this.sendOrder.get(sku); pending !== undefined; pending = this.sendOrder.get(sku)) {
      await pending;
    }
  }

  get halted(): string | null {
    return this.haltedBecause;
  }

  /** Closes the current connection, if any. */
  detach(): void {
    this.session?.close(CloseCode.GoingAway);
    this.session = null;
  }

  status(): StoreSyncStatus {
    const session = this.session;
    return {
      connected: session?.isLive ?? false,
      caughtUp: session?.isCaughtUp ?? false,
      lastSyncedAt: session?.isCaughtUp === true ? this.options.now() : this.lastSyncedAt,
      cursor: this.cursor,
      rejected: this.rejected,
      halted: this.haltedBecause,
    };
  }

  /** @internal */
  recordSynced(cursor: number): void {
    this.cursor = cursor;
    this.lastSyncedAt = this.options.now();
  }

  /** @internal Records a SKU's refusal (null: its changes were accepted); says whether it repeats the last one's code. */
  recordRejected(sku: string, error: HubRefusal | null): boolean {
    const repeated = error !== null && this.rejected.get(sku)?.code === error.code;
    if (error === null) this.rejected.delete(sku);
    else this.rejected.set(sku, error);
    return repeated;
  }

  /** @internal */
  ended(session: StoreSession): void {
    if (this.session === session) {
      this.abandonTopUps();
      if (session.isCaughtUp) this.lastSyncedAt = this.options.now();
      this.session = null;
    }
  }
}

/**
 * The hello's dirty list, within its bounds: the first SKUs that fit, and the
 * count of all of them when that is not every one (the hub budgets the catch-up
 * on it; every dirty SKU is still synced, from the store's own dirty set).
 */
export function helloDirty(dirty: readonly Sku[]): Pick<Hello, 'dirty' | 'dirtyTotal'> {
  const listed: Sku[] = [];
  let bytes = 0;
  for (const sku of dirty) {
    // As JSON: the quotes and the comma (SKUs need no escaping).
    bytes += sku.length + 3;
    if (listed.length === MAX_HELLO_DIRTY || bytes > HELLO_DIRTY_BYTES) break;
    listed.push(sku);
  }
  if (listed.length === dirty.length) return { dirty: listed };
  return { dirty: listed, dirtyTotal: Math.min(dirty.length, MAX_SKU_LIST) };
}

/** How many changes the cursor may move before it is saved again. */
const CURSOR_SAVE_EVERY = 64;

class StoreSession {
  private state: 'hello' | 'live' | 'closed' = 'hello';
  private queue: Promise<void> = Promise.resolve();
  private nextRef = 1;
  private welcome: Welcome | null = null;
  /** SKUs waiting for the hub's step 2 (catch-up, or a gap found in a relayed update). */
  private readonly awaitingStep2 = new Set<string>();
  /** SKUs in catch-up whose local state has not been offered to the hub yet. */
  private readonly catchingUp = new Set<string>();
  /** Local changes not sent on this connection: the next catch-up carries them. */
  private readonly unsent = new Set<string>();
  /** Set from the welcome until every SKU's catch-up has started. */
  private startingCatchUp = false;
  /** Per SKU, the reference of the last frame that carried its local changes. */
  private readonly lastRef = new Map<string, number>();
  /** When each frame carrying local changes was sent, until its acknowledgement (Map order = ref order). */
  private readonly sentAt = new Map<number, number>();
  private catchUpRefs = new Set<number>();
  /** The hub change number up to which this store holds every change, and the ones seen above it. */
  private cursor = 0;
  private savedCursor = 0;
  private readonly changesAbove = new Set<number>();
  /** References the hub refused, until their acknowledgement arrives. */
  private readonly refused = new Set<number>();
  /** When each SKU was last resynced after the hub found a change of it missing what it builds on. */
  private readonly resyncedAt = new Map<string, number>();
  /** Resyncs asked for within the interval, held until it is over (never dropped: the SKU would stay apart). */
  private readonly resyncTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private caughtUp = false;

  constructor(
    private readonly owner: StoreSync,
    private readonly documents: StoreDocuments,
    private readonly options: StoreSyncOptions,
    private readonly transport: Transport,
  ) {
    transport.onMessage((bytes) => {
      this.queue = this.queue
        .then(() => this.handle(bytes))
        .catch((error: unknown) => {
          this.options.onEvent({ type: 'protocol-error', detail: `internal: ${String(error)}` });
          this.close(CloseCode.InternalError);
        });
    });
    transport.onClose((code, reason) => {
      for (const timer of this.resyncTimers.values()) clearTimeout(timer);
      this.resyncTimers.clear();
      this.saveCursorOnClose();
      this.state = 'closed';
      this.owner.ended(this);
      this.options.onEvent({ type: 'closed', code, reason });
    });
  }

  /** The cursor is saved lazily while live; on close whatever it gained is kept. */
  private saveCursorOnClose(): void {
    if (this.caughtUp && this.welcome !== null && this.cursor > this.savedCursor) {
      this.savedCursor = this.cursor;
      this.documents.saveCursor(this.welcome.epoch, this.cursor).catch((error: unknown) => {
        this.options.onEvent({ type: 'protocol-error', detail: `saving the cursor failed: ${String(error)}` });
      });
    }
  }

  get isLive(): boolean {
    return this.state === 'live';
  }

  get isCaughtUp(): boolean {
    return this.state === 'live' && this.caughtUp;
  }

  start(): void {
    this.queue = this.queue.then(async () => {
      const [{ epoch, cursor }, dirty] = await Promise.all([this.documents.loadCursor(), this.documents.dirty()]);
      if (this.state === 'closed') return;
      this.transport.send(
        encodeControlFrame({
          type: 'hello',
          protocol: this.options.protocol,
          storeId: this.owner.storeId,
          epoch,
          cursor,
          ...helloDirty(dirty),
        }),
      );
    });
  }

  close(closeCode: TableCloseCode): void {
    if (this.state === 'closed') return;
    this.saveCursorOnClose();
    this.state = 'closed';
    this.owner.ended(this);
    this.transport.close(closeCode.code, closeCode.reason);
  }

  sendControl(message: ControlMessage): void {
    const spoken = forProtocol(message, this.options.protocol);
    if (this.state === 'live' && spoken !== null) this.transport.send(encodeControlFrame(spoken));
  }

  localUpdate(sku: Sku, update: Uint8Array): void {
    if (this.state === 'live' && !this.startingCatchUp && !this.catchingUp.has(sku) && !this.unsent.has(sku)) {
      const ref = this.nextRef++;
      this.lastRef.set(sku, ref);
      this.sentAt.set(ref, this.options.now());
      this.transport.send(encodeDocFrame(sku, ref, SyncMessageType.Update, update));
    } else {
      this.unsent.add(sku);
    }
  }

  private async handle(bytes: Uint8Array): Promise<void> {
    let frame;
    try {
      frame = decodeFrame(bytes);
    } catch (error) {
      this.options.onEvent({
        type: 'protocol-error',
        detail: error instanceof FrameError ? error.message : String(error),
      });
      this.close(CloseCode.BadRequest);
      return;
    }
    // An error the hub sent just before closing still explains the close.
    if (this.state === 'closed' && !(frame.kind === 'control' && frame.message.type === 'error')) return;
    if (frame.kind === 'doc') {
      await this.handleDoc(frame);
      return;
    }
    const message = frame.message;
    switch (message.type) {
      case 'welcome':
        await this.handleWelcome(message);
        return;
      case 'ack':
        await this.handleAck(message.ref);
        if (message.change !== undefined) await this.noteChange(message.change);
        return;
      case 'error':
        if (message.sku !== undefined) {
          if (message.ref !== undefined) this.refused.add(message.ref);
          const error = { code: message.code, detail: message.detail };
          const repeated = this.owner.recordRejected(message.sku, error);
          this.options.onEvent({ type: 'rejected', sku: message.sku, error, repeated });
          // A change the hub refused leaves every later one of the SKU without what it builds on
          // (UPDATE_MISSING_DEPENDENCY, class resync): exchange the whole difference again, or the
          // SKU stays apart until the next connection.
          if (recoveryByErrorCode[message.code] === Recovery.Resync) this.resync(message.sku);
        } else {
          this.options.onEvent({ type: 'protocol-error', detail: `hub reports ${message.code}: ${message.detail}` });
        }
        return;
      case 'topup-result':
        this.owner.topUpAnswered(message);
        return;
      case 'release':
        this.options.onRelease(
          message.sku,
          message.target,
          message.client === undefined || message.clock === undefined
            ? undefined
            : { client: message.client, clock: message.clock },
        );
        return;
      case 'hello':
      case 'topup':
      case 'refused':
        this.options.onEvent({ type: 'protocol-error', detail: `unexpected ${message.type} from the hub` });
        this.close(CloseCode.BadRequest);
        return;
    }
  }

  /**
   * Asks the hub for a SKU's difference both ways (a step 1, as the catch-up does),
   * at most once per RESYNC_INTERVAL_MS: the answer's step 1 brings this store's
   * step 2 with everything the hub lacks, the refused change included. A change
   * refused for good is refused again, no more often than this. One asked for
   * within the interval is held until it is over, not dropped: a later change
   * refused meanwhile would otherwise leave the SKU apart until a reconnection.
   * (While a step 1 is out, its answer already brings every change this store holds.)
   */
  private resync(sku: string, held = false): void {
    const parsed = SkuSchema.safeParse(sku);
    if (!parsed.success || this.awaitingStep2.has(sku) || this.catchingUp.has(sku)) return;
    const now = this.options.now();
    const last = this.resyncedAt.get(sku);
    if (!held && last !== undefined && now - last < RESYNC_INTERVAL_MS) {
      if (!this.resyncTimers.has(sku)) {
        const timer = setTimeout(
          () => {
            this.resyncTimers.delete(sku);
            if (this.state === 'live') this.resync(sku, true);
          },
          Math.max(0, RESYNC_INTERVAL_MS - (now - last)),
        );
        timer.unref?.();
        this.resyncTimers.set(sku, timer);
      }
      return;
    }
    this.resyncedAt.set(sku, now);
    this.documents.open(parsed.data).then(
      (doc) => {
        if (this.state === 'live') this.askForDifference(sku, doc);
      },
      (error: unknown) =>
        this.options.onEvent({ type: 'protocol-error', detail: `resync of ${sku}: ${String(error)}` }),
    );
  }

  /**
   * Sends a SKU's step 1 unless one is already out: the hub answers with its step 2
   * (relayed changes of the SKU wait for it) and its own step 1, which brings this
   * store's step 2.
   */
  private askForDifference(sku: string, doc: Y.Doc): void {
    if (this.awaitingStep2.has(sku)) return;
    this.awaitingStep2.add(sku);
    this.transport.send(encodeDocFrame(sku, 0, SyncMessageType.Step1, Y.encodeStateVector(doc)));
  }

  private async handleWelcome(welcome: Welcome): Promise<void> {
    if (this.state !== 'hello' || welcome.protocol !== this.options.protocol) {
      this.close(welcome.protocol !== this.options.protocol ? CloseCode.UnsupportedProtocol : CloseCode.BadRequest);
      return;
    }
    this.welcome = welcome;
    this.owner.hubOverrideCap = welcome.overrideCap;
    this.cursor = welcome.cursor;
    this.state = 'live';
    // Until every SKU's catch-up has started, local changes wait in `unsent`: sent
    // now, one could reach the hub before the older changes of its SKU that only
    // the catch-up carries (made while apart), and be refused.
    this.startingCatchUp = true;
    const dirty = await this.documents.dirty();
    if (this.state !== 'live') return;
    this.options.onEvent({ type: 'live', changed: welcome.changed.length, dirty: dirty.length });
    const skus = new Set<string>([...welcome.changed, ...dirty]);
    const started = new Set<string>();
    for (;;) {
      // Changes made while the catch-ups start are caught up the same way.
      for (const sku of this.unsent) skus.add(sku);
      this.unsent.clear();
      const next = [...skus].filter((sku) => !started.has(sku));
      if (next.length === 0) break;
      for (const sku of next) {
        started.add(sku);
        const parsed = SkuSchema.safeParse(sku);
        if (!parsed.success) continue;
        const doc = await this.documents.open(parsed.data);
        if (this.state !== 'live') return;
        this.catchingUp.add(sku);
        this.askForDifference(sku, doc);
      }
    }
    this.startingCatchUp = false;
    await this.checkCaughtUp();
  }

  private async handleDoc(frame: DocFrame): Promise<void> {
    const parsed = SkuSchema.safeParse(frame.sku);
    if (!parsed.success || this.state !== 'live') {
      this.options.onEvent({ type: 'protocol-error', detail: `unexpected doc frame for "${frame.sku.slice(0, 80)}"` });
      return;
    }
    const sku = parsed.data;
    if (frame.type === SyncMessageType.Step1) {
      // The hub asks for what it lacks: this carries the SKU's local changes,
      // so only once they are durable. The encoding below runs in the same tick as
      // the check: no local change can slip in between.
      const doc = await this.documents.open(sku);
      await this.owner.localSettled(sku);
      if (this.state !== 'live' || this.owner.halted !== null) return;
      const ref = this.nextRef++;
      const wasCatchingUp = this.catchingUp.delete(sku);
      if (wasCatchingUp) this.catchUpRefs.add(ref);
      this.lastRef.set(sku, ref);
      this.sentAt.set(ref, this.options.now());
      this.unsent.delete(sku);
      this.transport.send(encodeDocFrame(sku, ref, SyncMessageType.Step2, Y.encodeStateAsUpdate(doc, frame.payload)));
      return;
    }
    if (frame.type !== SyncMessageType.Step2 && this.awaitingStep2.has(sku)) {
      // The step 2 on its way already holds this change: the hub applied it before
      // relaying it, and answers the step 1 from its document after that. Applied
      // alone it would show a partial document (a grant without the release it
      // rests on: negative rights in this store's view of another's account).
      if (frame.ref > 0) await this.noteChange(frame.ref);
      return;
    }
    const doc = await this.documents.applyRemote(sku, frame.payload);
    if (this.state !== 'live') return;
    if (frame.type === SyncMessageType.Step2) this.awaitingStep2.delete(sku);
    else if (frame.ref > 0) await this.noteChange(frame.ref);
    if (doc.store.pendingStructs !== null || doc.store.pendingDs !== null) {
      // A relayed update builds on something this store never received: ask for the gap.
      this.askForDifference(sku, doc);
      return;
    }
    await this.checkCaughtUp();
  }

  private async handleAck(upTo: number): Promise<void> {
    const now = this.options.now();
    for (const [ref, at] of this.sentAt) {
      if (ref > upTo) break;
      this.sentAt.delete(ref);
      this.options.onAcked((now - at) / 1000);
    }
    // A SKU is clean once the hub accepted the last frame carrying its local
    // changes and nothing newer is waiting; a refused SKU stays dirty.
    const clean: Sku[] = [];
    for (const [sku, ref] of this.lastRef) {
      if (ref > upTo) continue;
      this.lastRef.delete(sku);
      if (this.refused.has(ref)) continue;
      this.owner.recordRejected(sku, null);
      if (!this.unsent.has(sku) && !this.catchingUp.has(sku)) clean.push(sku as Sku);
    }
    for (const ref of this.refused) if (ref <= upTo) this.refused.delete(ref);
    for (const ref of this.catchUpRefs) if (ref <= upTo) this.catchUpRefs.delete(ref);
    if (clean.length > 0) await this.documents.markClean(clean);
    await this.checkCaughtUp();
  }

  /**
   * Every change after the welcome reaches this store exactly once: relayed
   * with its number, or, for its own, in the acknowledgement. The cursor moves
   * over the numbers seen without a gap, and is saved once caught up, so the
   * next reconnect exchanges only what changed after it.
   */
  private async noteChange(change: number): Promise<void> {
    if (change <= this.cursor) return;
    this.changesAbove.add(change);
    const before = this.cursor;
    while (this.changesAbove.delete(this.cursor + 1)) this.cursor++;
    if (this.cursor === before || !this.caughtUp || this.welcome === null) return;
    this.owner.recordSynced(this.cursor);
    // Saved every CURSOR_SAVE_EVERY changes, not each one: a cursor that lags
    // after a crash only means a slightly larger catch-up.
    if (this.cursor - this.savedCursor >= CURSOR_SAVE_EVERY) {
      this.savedCursor = this.cursor;
      await this.documents.saveCursor(this.welcome.epoch, this.cursor);
    }
  }

  private async checkCaughtUp(): Promise<void> {
    const welcome = this.welcome;
    if (this.caughtUp || welcome === null || this.state !== 'live') return;
    if (this.awaitingStep2.size > 0 || this.catchingUp.size > 0 || this.catchUpRefs.size > 0) return;
    this.caughtUp = true;
    this.savedCursor = this.cursor;
    await this.documents.saveCursor(welcome.epoch, this.cursor);
    this.owner.recordSynced(this.cursor);
    this.options.onEvent({ type: 'caught-up', cursor: this.cursor, skus: welcome.changed.length });
    this.owner.sendReports();
  }
}
