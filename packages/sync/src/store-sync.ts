import { CloseCode, type ErrorCode, type Sku, type StoreId } from '@shelfsync/protocol';
import * as Y from 'yjs';
import { SHARE_PROTOCOL, STORE_PROTOCOL, type Available, type TopUpResult } from './control.js';
import type { Transport } from './transport.js';
import { TokenBucket, type RateBudget } from './budget.js';
import { StoreRefusalReports, type RefusalReport } from './store-refusal-reports.js';
import { ChainFigures, type ElsewhereFigure } from './store-chain-figures.js';
import { StoreSession } from './store-session.js';

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
   * Implementations must never let it clean a local change recorded after the
   * call: issue the storage write before the first await, or (as StoreStorage
   * does) defer it and skip the SKUs dirty again by then. A dirty mark that
   * outlives its clean only costs one needless exchange after a restart.
   */
  markClean(skus: readonly Sku[]): Promise<void>;
  /**
   * The hub change cursor this store last caught up to, and the sync protocol it
   * was caught up under (absent in data written before it was kept).
   */
  loadCursor(): Promise<{ epoch: string | null; cursor: number; protocol?: number | undefined }>;
  saveCursor(epoch: string, cursor: number, protocol: number): Promise<void>;
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
   * (default STORE_PROTOCOL; SHARE_PROTOCOL holds only the store's share): an older one keeps a store's traffic as a store of that
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
  private readonly figures: ChainFigures;

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
      protocol: STORE_PROTOCOL,
      ...options,
    };
    this.topUpBudget = new TokenBucket(STORE_TOP_UP_BUDGET, this.options.now);
    this.figures = new ChainFigures(this.options.now);
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

  /**
   * @internal Caught up: refusals made while apart can go (the hub now holds this
   * store's sales), and followed SKUs are asked for again.
   */
  sendReports(): void {
    this.refusals.flush();
    if (this.holdsShare) for (const message of this.figures.resume()) this.session?.sendControl(message);
  }

  /** Whether this store holds only its share of each document (protocol 7 and later, ADR 0022). */
  get holdsShare(): boolean {
    return this.options.protocol >= SHARE_PROTOCOL;
  }

  /**
   * The hub's last figure of the units of `sku` at every other location (a store
   * that holds only its share cannot count them), or undefined before one came.
   */
  chainElsewhere(sku: Sku): ElsewhereFigure | undefined {
    return this.figures.of(sku);
  }

  /**
   * Asks the hub to keep this store told of `skus`' availability elsewhere (its
   * console shows them): at once if connected, and on every later connection.
   * Nothing for a store that holds whole documents.
   */
  follow(skus: readonly Sku[]): void {
    if (!this.holdsShare) return;
    const messages = this.figures.follow(skus);
    if (this.session?.isCaughtUp === true) for (const message of messages) this.session.sendControl(message);
  }

  /** @internal The hub's availability summary. */
  availabilityReceived(message: Available): void {
    this.figures.received(message);
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
