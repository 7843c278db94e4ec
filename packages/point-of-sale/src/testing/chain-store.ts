import { computeStock, type StockView } from '@shelfsync/core';
import { StoreIdSchema, type RefusalCause, type Sku, type StoreId } from '@shelfsync/protocol';
import { MemoryStorageAdapter } from '@shelfsync/storage';
import {
  SHARE_PROTOCOL,
  STORE_PROTOCOL,
  StoreStorage,
  StoreSync,
  type StoreSyncEvent,
  type Transport,
} from '@shelfsync/sync';
import { PointOfSale, type PosAnswer, type StockFigures } from '../point-of-sale.js';
import { ReplicaHealth } from '../replica-health.js';
import { posRequests, type PosRequest } from '../requests.js';
import type { SaleOutcome } from '../sale-outcome.js';

/** One store of the chain, as `InProcessChain.open` and `addStore` take it. */
export interface StoreOptions {
  readonly id: string;
  /** Units the store may owe under the manager override (the store's `--override-cap`; 0, the default: off). */
  readonly overrideCap?: number;
  /** How long a sale beyond the rights waits for a top-up (the store's default: 250 ms). */
  readonly topUpWaitMs?: number;
  /** How long a fresh replica's write waits for its first sync (the store's default: 10 s). */
  readonly firstSyncWaitMs?: number;
  /** The store's storage: a fresh, empty one unless given. */
  readonly adapter?: MemoryStorageAdapter;
  /** Delay of every frame each way on this store's link, in real milliseconds (the chain's by default). */
  readonly latencyMs?: number;
  /** The sync protocol the store speaks (the chain's, or the store's default; 7 holds only its share). */
  readonly protocol?: number;
}

/** A store's figures of a SKU, as its `GET /v1/skus/:sku` answers them. */
export interface StoreStock extends StockFigures {
  /** Local changes of the SKU the hub has not acknowledged yet. */
  readonly pendingSync: boolean;
  readonly hubConnected: boolean;
}

/** What the store's point of sale and sync told it, in order. */
export interface StoreRecord {
  readonly outcomes: SaleOutcome[];
  readonly refusals: RefusalCause[];
  readonly overridden: { sku: Sku; quantity: number; overridden: number; hubReachable: boolean }[];
  readonly topUpWaits: number[];
  readonly releases: { sku: Sku; released: number; target: number }[];
  readonly events: StoreSyncEvent[];
  /** Local storage failures (the replica stops until a restart). */
  readonly failures: string[];
}

const freshRecord = (): StoreRecord => ({
  outcomes: [],
  refusals: [],
  overridden: [],
  topUpWaits: [],
  releases: [],
  events: [],
  failures: [],
});

/**
 * One store node in process, wired as the store app wires it: storage, the
 * replica's health, the sync and the point of sale on top. `restart` reopens it
 * from its storage (what a process restart keeps), `wipe` from nothing (a lost
 * data directory). It has no link of its own: the chain connects it.
 */
export class ChainStore {
  readonly id: StoreId;
  readonly requests: ReturnType<typeof posRequests>;
  /** What happened since the store was opened or last restarted. */
  record: StoreRecord = freshRecord();
  /** The store wants its hub link up (its link loop runs), as a store node does unless it was disconnected. */
  linked = false;
  storage!: StoreStorage;
  sync!: StoreSync;
  health!: ReplicaHealth;
  pos!: PointOfSale;

  private constructor(
    readonly options: StoreOptions,
    public adapter: MemoryStorageAdapter,
    private readonly now: () => number,
    /** A client id no replica of the chain had: a fresh replica takes one, a restarted one keeps its own. */
    private readonly newClientId: () => number,
  ) {
    this.id = StoreIdSchema.parse(options.id);
    this.requests = posRequests(this.id);
  }

  static async open(options: StoreOptions, now: () => number, newClientId: () => number): Promise<ChainStore> {
    const store = new ChainStore(options, options.adapter ?? new MemoryStorageAdapter(), now, newClientId);
    await store.wire();
    return store;
  }

  /** Whether the store holds only its share of each document (protocol 7 and later). */
  get holdsShare(): boolean {
    return (this.options.protocol ?? STORE_PROTOCOL) >= SHARE_PROTOCOL;
  }

  /** Reopens the store from what its storage holds, as a restarted store process does; the link is the chain's. */
  async restart(): Promise<void> {
    this.sync.detach();
    this.record = freshRecord();
    await this.wire();
  }

  /** Reopens the store on empty storage, as a store whose data directory was lost: a fresh replica. */
  async wipe(): Promise<void> {
    this.adapter = new MemoryStorageAdapter();
    await this.restart();
  }

  /**
   * Runs a POS request as the store's write routes do (no idempotency key):
   * refused while storage has failed or a fresh replica's first sync is not done
   * (a rejected promise with the ShelfsyncFailure), else the point of sale's answer.
   */
  async perform(request: PosRequest): Promise<PosAnswer> {
    this.health.assertHealthy();
    await this.health.assertReady();
    this.health.assertHealthy();
    return this.pos.perform(request);
  }

  receive(sku: Sku, quantity: number): Promise<PosAnswer> {
    return this.perform(this.requests.receipt({ sku, quantity }));
  }

  /** A sale; `override` is the manager's (the caller stands for their credentials). */
  sell(sku: Sku, quantity: number, override?: boolean): Promise<PosAnswer> {
    return this.perform(this.requests.sale({ sku, quantity, ...(override === undefined ? {} : { override }) }));
  }

  /** The store's figures of a SKU, as its read route answers them. */
  async stock(sku: Sku): Promise<StoreStock> {
    const doc = await this.storage.open(sku);
    // As the read route does: holding only its share, the store follows what it shows.
    this.sync.follow([sku]);
    return {
      ...this.pos.figures(doc, sku),
      pendingSync: this.storage.isDirty(sku),
      hubConnected: this.sync.status().connected,
    };
  }

  /** The whole derived view of the store's replica of a SKU. */
  async view(sku: Sku): Promise<StockView> {
    return computeStock(await this.storage.open(sku));
  }

  /** The store's link and replica, as its status route answers them. */
  status() {
    const sync = this.sync.status();
    return {
      connected: sync.connected,
      caughtUp: sync.caughtUp,
      ready: this.health.ready,
      firstSyncDone: this.storage.firstSyncDone,
      pendingSync: this.storage.dirtyCount(),
      rejected: [...sync.rejected].map(([sku, error]) => ({ sku, ...error })),
      halted: sync.halted,
    };
  }

  /** Starts a session on a fresh connection (the chain's). */
  attach(transport: Transport): void {
    this.sync.attach(transport);
  }

  private async wire(): Promise<void> {
    const { options, record } = this;
    const storage = await StoreStorage.open(this.adapter, this.newClientId);
    const health = new ReplicaHealth(storage, {
      firstSyncWaitMs: options.firstSyncWaitMs ?? 10_000,
      hubUrl: 'in-process hub',
      onFailed: (reason) => {
        record.failures.push(reason);
        sync.halt(`local storage failed: ${reason}`);
      },
    });
    const sync: StoreSync = new StoreSync(this.id, storage, {
      now: this.now,
      onEvent: (event) => {
        record.events.push(event);
        if (event.type === 'caught-up') health.caughtUp();
      },
      onRelease: (sku, target, hub) => void pos.release(sku, target, hub),
      ...(options.protocol === undefined ? {} : { protocol: options.protocol }),
    });
    const pos = new PointOfSale({
      storeId: this.id,
      storage,
      sync,
      health,
      topUpWaitMs: options.topUpWaitMs ?? 250,
      overrideCap: options.overrideCap ?? 0,
      observer: {
        sale: (outcome) => record.outcomes.push(outcome),
        refused: (cause) => record.refusals.push(cause),
        overridden: (sale) => record.overridden.push(sale),
        waitedForTopUp: (ms) => record.topUpWaits.push(ms),
        released: (sku, released, target) => record.releases.push({ sku, released, target }),
      },
    });
    this.storage = storage;
    this.sync = sync;
    this.health = health;
    this.pos = pos;
  }
}
