import { defaultAllocatorConfig, type AllocatorConfig } from '@shelfsync/escrow';
import { PointOfSale, ReplicaHealth, posRequests, type SaleOutcome } from '@shelfsync/point-of-sale';
import { SkuSchema, StoreIdSchema, type Sku, type StoreId } from '@shelfsync/protocol';
import { MemoryStorageAdapter } from '@shelfsync/storage';
import {
  HubAllocator,
  HubStorage,
  HubSync,
  Reservations,
  StoreStorage,
  StoreSync,
  SyncMessageType,
  createTransportPair,
  encodeDocFrame,
  type AllocatorEvent,
  type HubSyncEvent,
  type HubSyncOptions,
  type StoreSyncEvent,
} from '@shelfsync/sync';
import { sided } from './hub-cpu.js';
import { WireMeter } from './wire-meter.js';

/** The hub's sync, counting what it relays: its own writes (no origin session) and stores' updates. */
class CountingHubSync extends HubSync {
  readonly relayed = { hubWrites: 0, hubWriteFrameBytes: 0, storeUpdates: 0, storeUpdateFrameBytes: 0 };
  constructor(...args: ConstructorParameters<typeof HubSync>) {
    super(...args);
  }
  override relay(...args: Parameters<HubSync['relay']>): void {
    const [sku, update, change, , except] = args;
    // The whole frame; each store whose share the update changes gets its share of it.
    const bytes = encodeDocFrame(sku, change, SyncMessageType.Update, update).byteLength;
    if (except === undefined) {
      this.relayed.hubWrites++;
      this.relayed.hubWriteFrameBytes += bytes;
    } else {
      this.relayed.storeUpdates++;
      this.relayed.storeUpdateFrameBytes += bytes;
    }
    super.relay(...args);
  }
  resetCounts(): void {
    Object.assign(this.relayed, { hubWrites: 0, hubWriteFrameBytes: 0, storeUpdates: 0, storeUpdateFrameBytes: 0 });
  }
}

/** One store node in process: its storage, sync and point of sale, as the store app wires them. */
export interface ChainStore {
  readonly id: StoreId;
  readonly adapter: MemoryStorageAdapter;
  readonly storage: StoreStorage;
  readonly sync: StoreSync;
  readonly pos: PointOfSale;
  readonly requests: ReturnType<typeof posRequests>;
  readonly outcomes: Map<SaleOutcome, number>;
}

export interface ChainOptions {
  readonly stores: number;
  readonly skus: number;
  /** The virtual clock every component reads. */
  readonly now: () => number;
  readonly allocator?: AllocatorConfig;
}

/**
 * Store and SKU names as a chain would have them (their length is in every frame
 * and every ledger key): `store-007`, `SKU-00042`.
 */
export const storeName = (i: number): StoreId => StoreIdSchema.parse(`store-${String(i).padStart(3, '0')}`);
export const skuName = (i: number): Sku => SkuSchema.parse(`SKU-${String(i).padStart(5, '0')}`);

/**
 * A hub (storage, sync, escrow allocator, reservations that ask a store to
 * release) and one store node per store, on in-memory storage, linked by
 * in-memory transports whose every frame a WireMeter counts. Client ids and
 * reservation ids are fixed, so one seed gives the same bytes every run.
 */
export class ShelfsyncChain {
  readonly meter = new WireMeter();

  private constructor(
    readonly hubAdapter: MemoryStorageAdapter,
    readonly hubStorage: HubStorage,
    readonly hubSync: CountingHubSync,
    readonly allocator: HubAllocator,
    /** What the allocator did (grants by reason, releases asked, top-ups answered), counted. */
    readonly allocatorEvents: Map<string, number>,
    readonly reservations: Reservations,
    readonly stores: ChainStore[],
    readonly config: AllocatorConfig,
    /** What an honest chain never causes (refused updates, protocol errors, storage failures), for the report. */
    readonly incidents: string[],
  ) {}

  static async open(options: ChainOptions): Promise<ShelfsyncChain> {
    const { now } = options;
    const config = options.allocator ?? defaultAllocatorConfig;
    const incidents: string[] = [];
    const hubAdapter = sided(new MemoryStorageAdapter(), 'hub');
    const hubStorage = await HubStorage.open(
      hubAdapter,
      () => 'epoch-1',
      now,
      {},
      () => 1,
    );
    const onHubEvent = (event: HubSyncEvent): void => {
      if (event.type === 'rejected' || event.type === 'protocol-error' || event.type === 'budget-exceeded') {
        incidents.push(`hub: ${JSON.stringify(event)}`);
      }
    };
    // The product's defaults (no manager override), on the virtual clock.
    const hubOptions: Partial<HubSyncOptions> = { now, onEvent: onHubEvent };
    const hubSync = new CountingHubSync(hubStorage, hubOptions);
    const allocatorEvents = new Map<string, number>();
    const onAllocatorEvent = (event: AllocatorEvent): void => {
      const key = event.type === 'grant' ? `grant (${event.reason})` : event.type;
      allocatorEvents.set(key, (allocatorEvents.get(key) ?? 0) + 1);
    };
    const allocator = new HubAllocator(hubStorage, hubSync.engine, hubSync, config, now, onAllocatorEvent);
    hubSync.useAllocator(allocator);
    let ids = 0;
    const reservations = await Reservations.open(hubAdapter, hubSync.engine, allocator, {
      // A pickup order is picked as soon as its store can see it: none is left to expire within the day.
      ttlMs: 24 * 60 * 60_000,
      now,
      newId: () => `r_${String(++ids).padStart(22, '0')}`,
      escrow: true,
      onError: (error, what) => incidents.push(`reservations: ${what}: ${String(error)}`),
    });
    const stores: ChainStore[] = [];
    for (let i = 0; i < options.stores; i++) {
      stores.push(await openStore(storeName(i), i + 2, now, incidents));
    }
    return new ShelfsyncChain(
      hubAdapter,
      hubStorage,
      hubSync,
      allocator,
      allocatorEvents,
      reservations,
      stores,
      config,
      incidents,
    );
  }

  /** Links store `i` to the hub on a fresh connection, as the store node does on each (re)connect. */
  connect(i: number): void {
    const store = this.store(i);
    const [storeSide, hubSide] = createTransportPair();
    this.hubSync.connect(store.id, this.meter.receiving(hubSide, 'up'));
    store.sync.attach(this.meter.receiving(storeSide, 'down'));
  }

  /** Cuts store `i` off: its connection closes, and it keeps selling from its own rights. */
  disconnect(i: number): void {
    this.store(i).sync.detach();
  }

  connected(i: number): boolean {
    return this.store(i).sync.status().connected;
  }

  store(i: number): ChainStore {
    const store = this.stores[i];
    if (store === undefined) throw new Error(`no store ${i}`);
    return store;
  }

  /**
   * Waits until the chain is quiet: every frame sent is delivered and handled,
   * and whatever that started (commits, relays, rebalances, releases) is done.
   * The in-memory links deliver by microtask, so one macrotask turn drains a
   * step; the chain is quiet once a turn delivers nothing and nothing is in flight.
   */
  async settle(): Promise<void> {
    for (let turn = 0; turn < 10_000; turn++) {
      const before = this.meter.delivered;
      await new Promise((resolve) => setImmediate(resolve));
      if (this.meter.delivered === before && this.meter.inFlight === 0) return;
    }
    throw new Error('the in-process chain did not settle within 10,000 turns');
  }

  /** Bytes the hub (or one store) holds under each SKU's document keys, snapshot and update log, per SKU. */
  static async storedDocBytesPerSku(adapter: MemoryStorageAdapter, skus: number): Promise<number> {
    let bytes = 0;
    for (const chunk of await adapter.loadRange(['doc'])) bytes += chunk.data.byteLength;
    return bytes / skus;
  }

  close(): void {
    this.reservations.stop();
    for (let i = 0; i < this.stores.length; i++) this.disconnect(i);
    this.hubSync.close();
  }
}

async function openStore(id: StoreId, clientId: number, now: () => number, incidents: string[]): Promise<ChainStore> {
  const adapter = sided(new MemoryStorageAdapter(), 'store');
  const storage = await StoreStorage.open(adapter, () => clientId);
  const health = new ReplicaHealth(storage, {
    firstSyncWaitMs: 0,
    hubUrl: 'in-process',
    onFailed: (reason) => incidents.push(`${id}: storage failed: ${reason}`),
  });
  const outcomes = new Map<SaleOutcome, number>();
  const onEvent = (event: StoreSyncEvent): void => {
    if (event.type === 'caught-up') health.caughtUp();
    if (event.type === 'rejected' || event.type === 'protocol-error' || event.type === 'halted') {
      incidents.push(`${id}: ${JSON.stringify(event)}`);
    }
  };
  const sync: StoreSync = new StoreSync(id, storage, {
    now,
    onEvent,
    onRelease: (target, down, mark) => void pos.release(target, down, mark),
  });
  const pos = new PointOfSale({
    storeId: id,
    storage,
    sync,
    health,
    // The in-process link answers a top-up in microseconds: a wait of 10 s never
    // binds, so a slow host cannot change a result (the store's default is 250 ms).
    topUpWaitMs: 10_000,
    overrideCap: 0,
    observer: { sale: (outcome) => outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1) },
  });
  return { id, adapter, storage, sync, pos, requests: posRequests(id), outcomes };
}
