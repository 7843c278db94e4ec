import { computeStock, type LocationStock, type StockView } from '@shelfsync/core';
import { AllocatorConfigSchema, type AllocatorConfig } from '@shelfsync/escrow';
import {
  StoreIdSchema,
  type Reservation,
  type ReservationRequest,
  type Result,
  type Sku,
  type StoreId,
} from '@shelfsync/protocol';
import { MemoryStorageAdapter } from '@shelfsync/storage';
import {
  HubAllocator,
  HubStorage,
  HubSync,
  Reservations,
  type AllocatorEvent,
  type HubSyncEvent,
  type StoreLinkStatus,
} from '@shelfsync/sync';
import { shareMismatch } from '@shelfsync/sync/testing';
import { ChainStore, type StoreOptions } from './chain-store.js';
import { Links, VirtualClock, wireSince, type WireSnapshot } from './links.js';

/**
 * The chain's settings, named after the hub's flags; each defaults to what a
 * hub started with no flags does.
 */
export interface ChainOptions {
  /** The stores, by id or with options of their own (default: one store, `north`). */
  readonly stores?: readonly (string | StoreOptions)[];
  /** `--escrow`: on, the allocator grants and reclaims POS rights by demand; off, rights stay where stores put them. */
  readonly escrow?: 'on' | 'off';
  /** `--escrow-*` and `--reservation-release-wait-ms`, as the allocator's configuration. */
  readonly allocator?: Partial<AllocatorConfig>;
  /** `--reservation-ttl-ms`. */
  readonly reservationTtlMs?: number;
  /** The hub's `--override-cap`: the deficit per store account it accepts. */
  readonly maxDeficit?: number;
  /** Delay of every frame each way on every store link, in real milliseconds (default 0). */
  readonly latencyMs?: number;
  /** `virtual` (default): every component reads `chain.clock`, which only the test moves. */
  readonly clock?: 'virtual' | 'real';
  /** Link every store and wait for its first sync (default true). */
  readonly connect?: boolean;
  /** The sync protocol every store speaks unless its own options say (default: the store's). */
  readonly protocol?: number;
}

/** The hub's services, as the hub app wires them. */
interface Hub {
  readonly storage: HubStorage;
  readonly sync: HubSync;
  readonly allocator: HubAllocator;
  readonly reservations: Reservations;
}

/**
 * A whole chain in one process on in-memory storage: a hub (storage, sync, the
 * escrow allocator and reservations, wired as the hub app wires them) and store
 * nodes (storage, sync, replica health and point of sale), linked by in-memory
 * transports, optionally slowed. Links are cut, the hub stopped and restarted
 * from its storage, and the clock moved by the test; `settle` waits until no
 * frame is in flight. This is the one place that constructs the hub's services.
 */
export class InProcessChain {
  /** The chain's clock, when virtual. */
  readonly clock: VirtualClock | null;
  readonly now: () => number;
  readonly links = new Links();
  readonly hubAdapter = new MemoryStorageAdapter();
  /** Every event of the hub's sync since the chain opened, across hub restarts. */
  readonly hubEvents: HubSyncEvent[] = [];
  readonly allocatorEvents: AllocatorEvent[] = [];
  readonly expired: Reservation[] = [];
  /** Failures no caller waits for (an expiry, settling a deficit): an honest chain has none. */
  readonly errors: string[] = [];
  private readonly stores = new Map<StoreId, ChainStore>();
  private hub: Hub | null = null;
  private ids = 0;
  private clientIds = 1;

  private constructor(private options: ChainOptions) {
    this.clock = options.clock === 'real' ? null : new VirtualClock();
    this.now = this.clock?.now ?? Date.now;
  }

  static async open(options: ChainOptions = {}): Promise<InProcessChain> {
    const chain = new InProcessChain(options);
    await chain.startHub();
    for (const store of options.stores ?? ['north']) {
      await chain.addStore(typeof store === 'string' ? { id: store } : store, options.connect ?? true);
    }
    return chain;
  }

  /** Opens a store (a new one, or one whose `adapter` holds a replica) and, unless told not to, links it and waits for its first sync. */
  async addStore(options: StoreOptions, connect = true): Promise<ChainStore> {
    const { protocol } = this.options;
    const withProtocol = protocol === undefined || options.protocol !== undefined ? options : { ...options, protocol };
    const store = await ChainStore.open(withProtocol, this.now, () => ++this.clientIds);
    if (this.stores.has(store.id)) throw new Error(`store ${store.id} is already in the chain`);
    this.stores.set(store.id, store);
    if (connect) {
      this.connect(store.id);
      await this.settle();
      if (this.hub !== null && !store.storage.firstSyncDone)
        throw new Error(`${store.id} did not finish its first sync`);
    }
    return store;
  }

  store(id: string): ChainStore {
    const store = this.stores.get(StoreIdSchema.parse(id));
    if (store === undefined) throw new Error(`no store ${id} in the chain`);
    return store;
  }

  /** The store process restarts from its storage; its link comes back as it was. */
  async restartStore(id: string): Promise<ChainStore> {
    const store = this.store(id);
    await store.restart();
    if (store.linked) this.connect(id);
    return store;
  }

  /** The store's data directory is lost: it starts as a fresh replica of the same store; its link comes back as it was. */
  async wipeStore(id: string): Promise<ChainStore> {
    const store = this.store(id);
    await store.wipe();
    if (store.linked) this.connect(id);
    return store;
  }

  /** The store's link comes up (at once, if the hub runs and has not cut it; else when it can, as a store's link loop retries). */
  connect(id: string): void {
    const store = this.store(id);
    store.linked = true;
    const hub = this.hub;
    if (hub === null) return;
    const [storeSide, hubSide] = this.links.pair(store.options.latencyMs ?? this.options.latencyMs ?? 0, store.id);
    // A cut link is closed at once (LinkCut): the store keeps trying, and is connected again on `restore`.
    if (hub.sync.connect(store.id, hubSide) === null) return;
    store.attach(storeSide);
  }

  /** The store's link goes down (a partition): it sells from its own rights until `connect`. */
  disconnect(id: string): void {
    const store = this.store(id);
    store.linked = false;
    store.sync.detach();
  }

  /** The hub's operator cuts the store's link (as `POST /v1/admin/stores/:id/link`): refused until `restore`. */
  cut(id: string): boolean {
    return this.running.sync.cutLink(this.store(id).id);
  }

  /** The operator restores a cut link: the store, still trying, connects again. */
  restore(id: string): boolean {
    const store = this.store(id);
    const restored = this.running.sync.restoreLink(store.id);
    if (restored && store.linked) this.connect(id);
    return restored;
  }

  /** The hub stops (as a process exit): every link drops; stores keep selling and keep trying. */
  stopHub(): void {
    const hub = this.hub;
    if (hub === null) return;
    this.hub = null;
    hub.reservations.stop();
    hub.sync.close();
  }

  /** The hub starts from what its storage holds (its expiry timers rebuilt from the stored reservations); linked stores reconnect. */
  async startHub(): Promise<void> {
    if (this.hub !== null) return;
    const { options, now } = this;
    // Fixed client ids (the hub 1, stores from 2 in the order they open): a run is the same every time.
    const storage = await HubStorage.open(
      this.hubAdapter,
      () => 'epoch-1',
      now,
      {},
      () => 1,
    );
    const sync = new HubSync(storage, {
      now,
      maxDeficit: options.maxDeficit ?? 0,
      onEvent: (event) => this.hubEvents.push(event),
    });
    const allocator = new HubAllocator(
      storage,
      sync.engine,
      sync,
      AllocatorConfigSchema.parse(options.allocator ?? {}),
      now,
      (event) => this.allocatorEvents.push(event),
    );
    const escrow = (options.escrow ?? 'on') === 'on';
    if (escrow) sync.useAllocator(allocator);
    const reservations = await Reservations.open(this.hubAdapter, sync.engine, allocator, {
      ttlMs: options.reservationTtlMs ?? 900_000,
      now,
      // Fixed ids: a run is the same every time.
      newId: () => `r_${String(++this.ids).padStart(22, '0')}`,
      onExpired: (reservation) => this.expired.push(reservation),
      onError: (error, what) => this.errors.push(`${what}: ${String(error)}`),
      escrow,
    });
    this.hub = { storage, sync, allocator, reservations };
    for (const store of this.stores.values()) if (store.linked) this.connect(store.id);
  }

  /**
   * Stops and starts the hub from its storage, then waits for the linked stores
   * to be back; `flags` restart it with other escrow settings, as an operator would.
   */
  async restartHub(flags: Pick<ChainOptions, 'escrow' | 'allocator'> = {}): Promise<void> {
    this.stopHub();
    this.options = { ...this.options, ...flags };
    await this.startHub();
    await this.settle();
  }

  get hubRunning(): boolean {
    return this.hub !== null;
  }

  /** Waits until no frame is in flight on any link and whatever the last ones started is done. */
  settle(timeoutMs?: number): Promise<void> {
    return this.links.settle(timeoutMs);
  }

  /**
   * Bytes and frames on each store's link, by store id, `up` to the hub and
   * `down` from it, over all its connections: since the chain opened, or since
   * the snapshot `since` (an earlier answer of `wire`).
   */
  wire(since?: WireSnapshot): WireSnapshot {
    const now = this.links.traffic();
    return since === undefined ? now : wireSince(now, since);
  }

  /**
   * Settles, then checks that every connected store holds exactly what it
   * should of the hub's document of each SKU given: all of it, or its share
   * when it holds only that (equal Yjs state vectors over those ids); throws
   * naming the first that does not.
   */
  async converged(skus: readonly Sku[]): Promise<void> {
    await this.settle();
    const hub = this.running;
    for (const sku of skus) {
      const hubDoc = await hub.storage.open(sku);
      for (const store of this.stores.values()) {
        if (!store.sync.status().connected) continue;
        const why = shareMismatch(hubDoc, await store.storage.open(sku), store, hub.storage.writerClients);
        if (why !== null) throw new Error(`${store.id} has not converged with the hub on ${sku}: ${why}`);
      }
    }
  }

  /** The hub's derived view of a SKU. */
  async hubStock(sku: Sku): Promise<StockView> {
    return computeStock(await this.running.storage.open(sku));
  }

  /** One location's figures at the hub, as the storefront's `locations` lists them; undefined where it holds nothing. */
  async location(sku: Sku, storeId: string): Promise<LocationStock | undefined> {
    return (await this.hubStock(sku)).locations[storeId];
  }

  /** Whether the hub has recorded any change of the SKU (the storefront answers 404 otherwise). */
  hubKnows(sku: Sku): boolean {
    return this.running.storage.changeOf(sku) !== undefined;
  }

  /** An online order, as `POST /v1/reservations` places it (no idempotency key). */
  reserve(request: ReservationRequest): Promise<Result<Reservation>> {
    return this.running.reservations.reserve(request);
  }

  confirm(id: string): Promise<Result<Reservation>> {
    return this.running.reservations.confirm(id);
  }

  cancel(id: string): Promise<Result<Reservation>> {
    return this.running.reservations.cancel(id);
  }

  reservation(id: string): Promise<Reservation | undefined> {
    return this.running.reservations.get(id);
  }

  /** Moves the virtual clock, then expires what is due (as the hub's expiry timers would); returns how many expired. */
  async advance(ms: number): Promise<number> {
    if (this.clock === null) throw new Error('the chain runs on real time');
    this.clock.advance(ms);
    const expired = await this.running.reservations.expireDue();
    await this.settle();
    return expired;
  }

  /** One rebalancing round of the allocator, as the hub's timer runs it. */
  async sweep(): Promise<void> {
    await this.running.allocator.sweep();
    await this.settle();
  }

  /** Sends the availability summary to the stores that hold only their share, as the hub's timer does. */
  async flushAvailability(): Promise<void> {
    // What stores sent first (their follows) is in before the summary is made.
    await this.settle();
    await this.running.sync.flushAvailability();
    await this.settle();
  }

  /** Tells each store that holds only its share how far its cursor may move, as the hub's timer does. */
  async flushCursors(): Promise<void> {
    this.running.sync.flushCursors();
    await this.settle();
  }

  /** Deficits the hub could not settle yet (the hub's deficit metrics). */
  deficits(): { units: number; reservationsAtRisk: number; skus: number } {
    return this.running.allocator.deficits();
  }

  /** Every store the hub has heard from since it last started (`GET /v1/stores`). */
  storeLinks(): StoreLinkStatus[] {
    return this.running.sync.storeLinks();
  }

  /** The refusals stores reported to the hub, in order (what the hub's chain summary counts). */
  refusalReports(): Extract<HubSyncEvent, { type: 'refused' }>[] {
    return this.hubEvents.filter((event) => event.type === 'refused');
  }

  /** Stops the hub and every link; timers of the chain's services are cleared. */
  close(): void {
    for (const store of this.stores.values()) store.sync.detach();
    this.stopHub();
  }

  private get running(): Hub {
    if (this.hub === null) throw new Error('the hub is stopped');
    return this.hub;
  }
}
