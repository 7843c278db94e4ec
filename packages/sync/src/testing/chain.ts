import { applyOperation, computeStock, type Operation, type StockView } from '@shelfsync/core';
import { SkuSchema, StoreIdSchema, storeWriter, type Result, type Sku, type StoreId } from '@shelfsync/protocol';
import { MemoryStorageAdapter } from '@shelfsync/storage';
import * as Y from 'yjs';
import {
  HubStorage,
  HubSync,
  STORE_PROTOCOL,
  StoreStorage,
  StoreSync,
  createTransportPair,
  decodeFrame,
  releaseSurplus,
  type Frame,
  type HubEngine,
  type HubSession,
  type HubSyncEvent,
  type HubSyncOptions,
  type StoreSyncEvent,
  type Transport,
  type TransportPairOptions,
} from '../index.js';

export const sku = (value: string): Sku => SkuSchema.parse(value);

/** A transport that records every frame it sends, decoded (into `sent` when given). */
export function recording(transport: Transport, sent: Frame[] = []): Transport & { readonly sent: Frame[] } {
  return {
    sent,
    send(frame) {
      sent.push(decodeFrame(frame));
      transport.send(frame);
    },
    close: (code, reason) => transport.close(code, reason),
    get bufferedAmount() {
      return transport.bufferedAmount;
    },
    onMessage: (handler) => transport.onMessage(handler),
    onClose: (handler) => transport.onClose(handler),
  };
}

export class TestHub {
  readonly events: HubSyncEvent[] = [];
  readonly sync: HubSync;

  /** The hub's engine (the sync's): what the allocator and reservations write through. */
  get engine(): HubEngine {
    return this.sync.engine;
  }

  private constructor(
    readonly adapter: MemoryStorageAdapter,
    readonly storage: HubStorage,
    options: Partial<HubSyncOptions>,
  ) {
    this.sync = new HubSync(storage, { ...options, onEvent: (event) => this.events.push(event) });
  }

  static async create(options: Partial<HubSyncOptions> = {}, adapter = new MemoryStorageAdapter()): Promise<TestHub> {
    return new TestHub(adapter, await HubStorage.open(adapter, () => 'epoch-1'), options);
  }

  async stock(value: Sku): Promise<StockView> {
    return computeStock(await this.storage.open(value));
  }

  async state(value: Sku): Promise<Uint8Array> {
    return Y.encodeStateAsUpdate(await this.storage.open(value));
  }
}

export class TestStore {
  readonly events: StoreSyncEvent[] = [];
  readonly sync: StoreSync;
  /** The store-side transport of the current connection, recording what the store sends. */
  link: (Transport & { readonly sent: Frame[] }) | null = null;
  /** Every frame the hub sent this store, over all its connections, decoded. */
  readonly received: Frame[] = [];
  session: HubSession | null = null;

  private constructor(
    readonly id: StoreId,
    readonly adapter: MemoryStorageAdapter,
    readonly storage: StoreStorage,
    protocol: number,
    now: (() => number) | undefined,
  ) {
    this.sync = new StoreSync(id, storage, {
      protocol,
      ...(now === undefined ? {} : { now }),
      onEvent: (event) => this.events.push(event),
      // As the store node does: move what the POS holds above the target to the online escrow.
      onRelease: (target, down, hub) => {
        void this.release(target, down, hub);
      },
    });
  }

  /** Whether the store holds only its share of each document (protocol 7 and later). */
  get holdsShare(): boolean {
    return this.sync.holdsShare;
  }

  /** The hub asked for a release: judged on this store's latest state, as the store node does. */
  async release(target: Sku, down: number, hub?: { client: number; clock: number }): Promise<void> {
    const doc = await this.storage.open(target);
    const released = await releaseSurplus(doc, this.id, down, hub, (operation) =>
      this.commitLocal(doc, target, operation),
    );
    await released?.durable;
  }

  /** A store replica; `protocol` is the sync protocol version it speaks (default the newest); `now` its sync's clock. */
  static async create(
    id: string,
    adapter = new MemoryStorageAdapter(),
    protocol = STORE_PROTOCOL,
    now?: () => number,
  ): Promise<TestStore> {
    return new TestStore(StoreIdSchema.parse(id), adapter, await StoreStorage.open(adapter), protocol, now);
  }

  /** Applies an operation as this store, the way the store node does: durable first, then handed to sync. */
  async apply(target: Sku, operation: Operation): Promise<Result<unknown>> {
    const { result, update } = this.applyLocal(await this.storage.open(target), operation);
    if (update !== undefined) await this.persist(target, update);
    return result;
  }

  /** Applies an operation to the document in one transaction; returns its result and the update it made. */
  applyLocal(doc: Y.Doc, operation: Operation): { result: Result<unknown>; update: Uint8Array | undefined } {
    const updates: Uint8Array[] = [];
    const collect = (update: Uint8Array, origin: unknown): void => {
      if (origin === 'local') updates.push(update);
    };
    doc.on('update', collect);
    const result = applyOperation(doc, storeWriter(this.id), operation, 'local');
    doc.off('update', collect);
    return { result, update: updates.length === 0 ? undefined : Y.mergeUpdates(updates) };
  }

  /** Stores a local update and hands it to the sync (which sends it once durable), as the store node does. */
  persist(target: Sku, update: Uint8Array): Promise<void> {
    const durable = this.storage.recordLocal(target, update);
    this.sync.localUpdate(target, update, durable);
    return durable;
  }

  /**
   * Applies an operation and records its change in the same tick, as the store's
   * point of sale does: a change recorded after an await could be overtaken by
   * another local change and reach the hub after one that builds on it.
   */
  commitLocal(
    doc: Y.Doc,
    target: Sku,
    operation: Operation,
  ): { result: Result<unknown>; update: Uint8Array | undefined; durable: Promise<void> | undefined } {
    const attempt = this.applyLocal(doc, operation);
    return { ...attempt, durable: attempt.update === undefined ? undefined : this.persist(target, attempt.update) };
  }

  /** Connects to `hub`; `options.delay` slows the link in both directions (seeded in simulations). */
  connect(hub: TestHub, options: TransportPairOptions = {}): HubSession | null {
    const [storeSide, hubSide] = createTransportPair(options);
    this.link = recording(storeSide);
    const inbound = recording(hubSide, this.received);
    this.session = hub.sync.connect(this.id, inbound);
    this.sync.attach(this.link);
    return this.session;
  }

  disconnect(): void {
    this.sync.detach();
  }

  async stock(value: Sku): Promise<StockView> {
    return computeStock(await this.storage.open(value));
  }

  caughtUpCount(): number {
    return this.events.filter((e) => e.type === 'caught-up').length;
  }
}
