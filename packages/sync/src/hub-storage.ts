import { SkuSchema, type Sku, type WriterKey } from '@shelfsync/protocol';
import { RecordStore, type StorageAdapter, type StorageWrite } from '@shelfsync/storage';
import { heldClientOwners } from '@shelfsync/core';
import type * as Y from 'yjs';
import { z } from 'zod';
import { ClientRegistry } from './client-registry.js';
import { RegistryWriterClients, type HubWriterClients } from './hub-clients.js';
import type { CommitListener, HubChange, HubChangeLog } from './hub-change-log.js';
import type { HubDocumentStore } from './hub-documents.js';
import { KeyedSerializer } from './keyed-serializer.js';
import {
  ClientIdSchema,
  PersistedDocs,
  freshClientId,
  randomClientId,
  type PinnedDoc,
  type ResidencyOptions,
} from './persisted-docs.js';

/** Set once the ids in documents written before the client-id registry are recorded in it. */
const CLIENTS_ADOPTED = ['hub', 'clients-adopted'];

const HubMetaSchema = z.strictObject({
  epoch: z.string(),
  cursor: z.int().min(0),
  // Absent in data written before client ids were kept; one is added on open.
  clientId: ClientIdSchema.optional(),
  // Absent before schema version 2; one is added on open.
  neutralClientId: ClientIdSchema.optional(),
});
const ChangeSchema = z.strictObject({ seq: z.int().min(1), at: z.int().min(0) });
/** A committed change, with the SKU and the update it made. */
type Committed = { sku: Sku; change: HubChange; update: Uint8Array };

/**
 * The hub's documents and change log, persisted through a StorageAdapter: the
 * in-process `HubChangeLog`, and the hub's default. Each commit takes the next
 * change number; the change index (each SKU's latest change) and the head live
 * in memory, rebuilt from the change records when it opens.
 */
export class HubStorage implements HubChangeLog, HubDocumentStore {
  private readonly docs: PersistedDocs;
  private readonly records: RecordStore;
  /** SKU -> its latest change; Map order is ascending change number. */
  private readonly changes = new Map<Sku, HubChange>();
  private current = 0;
  private readonly commitListeners = new Set<CommitListener>();
  /** The hub's own writes of each SKU, and durable reads of it, one at a time in call order. */
  private readonly oneAtATimePerSku = new KeyedSerializer<Sku>();
  private failure: Error | null = null;
  /** Shutting down: a commit the closing adapter refuses is not a storage failure. */
  private closing = false;
  private readonly failureListeners = new Set<(error: Error) => void>();
  /** Commits finish out of order; listeners hear them in change order, so "after change N" means what it says. */
  private notified = 0;
  private readonly finished = new Map<number, Committed | null>();

  /** The ids the hub writes under, and the neutral one its documents rest on. */
  readonly writerClients: HubWriterClients;

  private constructor(
    adapter: StorageAdapter,
    readonly epoch: string,
    private readonly clientId: number,
    private readonly neutralClientId: number,
    private readonly clients: ClientRegistry,
    private readonly now: () => number,
    residency: ResidencyOptions,
    newClientId: () => number,
  ) {
    // Documents rest on the neutral id: a remote update never carries its structs, so Yjs never moves it.
    this.docs = new PersistedDocs(adapter, { now, ...residency, clientId: neutralClientId });
    this.records = new RecordStore(adapter);
    this.writerClients = new RegistryWriterClients(clients, clientId, neutralClientId, newClientId);
  }

  /** Opens the hub's storage, creating a new epoch for an empty one. */
  static async open(
    adapter: StorageAdapter,
    newEpoch: () => string,
    now: () => number = Date.now,
    residency: ResidencyOptions = {},
    newClientId: () => number = randomClientId,
  ): Promise<HubStorage> {
    const records = new RecordStore(adapter);
    const stored = await records.get(['hub', 'meta'], HubMetaSchema);
    const clients = await ClientRegistry.load(adapter);
    let clientId = stored?.clientId;
    // A new id must not be one a store already holds (data from before the hub kept its id).
    while (clientId === undefined || (stored?.clientId === undefined && clients.owner(clientId) !== undefined)) {
      clientId = newClientId();
    }
    // Drawn once, like the hub's id: not one a store or another of the hub's keys holds.
    const neutralClientId =
      stored?.neutralClientId ??
      freshClientId(newClientId, (client) => client === clientId || clients.owner(client) !== undefined);
    const meta = { epoch: stored?.epoch ?? newEpoch(), cursor: stored?.cursor ?? 0, clientId, neutralClientId };
    if (stored?.clientId === undefined || stored.neutralClientId === undefined)
      await records.put(['hub', 'meta'], meta);
    // Before any store's update is judged: no store may ever write under the hub's ids.
    await clients.reserveHub(clientId);
    await clients.reserveHub(neutralClientId);
    const storage = new HubStorage(
      adapter,
      meta.epoch,
      meta.clientId,
      meta.neutralClientId,
      clients,
      now,
      residency,
      newClientId,
    );
    const entries: [Sku, HubChange][] = [];
    for (const chunk of await adapter.loadRange(['hub', 'change'])) {
      const sku = SkuSchema.safeParse(chunk.key[2]);
      const change = ChangeSchema.safeParse(JSON.parse(new TextDecoder().decode(chunk.data)));
      if (sku.success && change.success) entries.push([sku.data, change.data]);
    }
    entries.sort((a, b) => a[1].seq - b[1].seq);
    for (const [sku, change] of entries) storage.changes.set(sku, change);
    storage.current = Math.max(meta.cursor, entries.at(-1)?.[1].seq ?? 0);
    storage.notified = storage.current;
    await storage.adoptHeldClients(records);
    return storage;
  }

  /**
   * Data written before the hub kept its client-id registry: once, before any
   * store's update is judged, record who wrote each id its documents hold, or a
   * store could claim another's id in a SKU the other never touched and lock it
   * out of every SKU. (Every document is read once; the mark keeps it from
   * happening again.)
   */
  private async adoptHeldClients(records: RecordStore): Promise<void> {
    if ((await records.get(CLIENTS_ADOPTED, z.literal(true).optional().catch(undefined))) === true) return;
    const owners = new Map<number, WriterKey>();
    for (const sku of this.allSkus()) {
      for (const [client, writer] of heldClientOwners(await this.open(sku))) {
        if (!owners.has(client)) owners.set(client, writer);
      }
    }
    await this.clients.adopt(owners);
    await records.put(CLIENTS_ADOPTED, true);
  }

  open(sku: Sku): Promise<Y.Doc> {
    return this.docs.open(sku);
  }

  /** The SKU's document, kept in memory until released (for live readers that subscribe to it). */
  pin(sku: Sku): Promise<PinnedDoc> {
    return this.docs.pin(sku);
  }

  /** Drops idle documents whose every update is stored; returns how many went. */
  evictIdle(): number {
    return this.docs.evictIdle();
  }

  residencyStats(): { resident: number; evictions: number } {
    return this.docs.residencyStats();
  }

  async commit(sku: Sku, update: Uint8Array, extra: readonly StorageWrite[] = []): Promise<number> {
    const change = { seq: ++this.current, at: this.now() };
    // Deleted first: set again, the SKU moves to the end, keeping the map in change order.
    this.changes.delete(sku);
    this.changes.set(sku, change);
    // One atomic batch: the update, the change record that tells stores to fetch
    // it, and whatever the change means beyond the document (a reservation).
    try {
      await this.docs.append(sku, update, [...extra, this.records.putWrite(['hub', 'change', sku], change)]);
      this.clients.committed(extra);
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)));
      this.finish(change.seq, null);
      throw error;
    }
    this.finish(change.seq, { sku, change, update });
    return change.seq;
  }

  clientOwner(client: number): WriterKey | undefined {
    return this.clients.owner(client);
  }

  reserveClients(writer: WriterKey, clients: readonly number[]): StorageWrite[] | string {
    return this.clients.reserve(writer, clients);
  }

  /** The Yjs client id this hub writes version 1 documents' `hub` entry with. */
  get hubClientId(): number {
    return this.clientId;
  }

  /** Runs `write` after every hub write and durable read of `sku` queued before it, whatever their outcome. */
  hubWrite<T>(sku: Sku, write: () => T | Promise<T>): Promise<T> {
    return this.oneAtATimePerSku.run(sku, write);
  }

  readDurable<T>(sku: Sku, read: () => T): Promise<T> {
    return this.hubWrite(sku, () => {
      if (this.failure !== null) throw this.failure;
      return read();
    });
  }

  /** Why a commit failed (the hub must stop: memory is ahead of the disk), or null. */
  get failed(): Error | null {
    return this.failure;
  }

  /** Calls `listener` once, when the first commit fails. */
  onFailure(listener: (error: Error) => void): void {
    this.failureListeners.add(listener);
  }

  private fail(error: Error): void {
    if (this.failure !== null || this.closing) return;
    this.failure = error;
    for (const listener of this.failureListeners) {
      try {
        listener(error);
      } catch {
        // A listener's own failure must not stop the others, or the commit log.
      }
    }
  }

  /**
   * The newest change number below which every change is durable. Stores keep it
   * as their catch-up point, so it never counts a change a crash could take back:
   * the number would be given to another change after the restart.
   */
  cursor(): number {
    return this.notified;
  }

  changedSince(cursor: number): Sku[] {
    const changed: Sku[] = [];
    for (const [sku, change] of this.changes) if (change.seq > cursor) changed.push(sku);
    return changed;
  }

  allSkus(): Sku[] {
    return [...this.changes.keys()];
  }

  skuCount(): number {
    return this.changes.size;
  }

  /** The SKU's latest change (number and time), or undefined for a SKU never written. */
  changeOf(sku: Sku): HubChange | undefined {
    return this.changes.get(sku);
  }

  private finish(seq: number, done: Committed | null): void {
    this.finished.set(seq, done);
    for (
      let next = this.finished.get(this.notified + 1);
      next !== undefined;
      next = this.finished.get(this.notified + 1)
    ) {
      this.finished.delete(++this.notified);
      if (next !== null) for (const listener of this.commitListeners) listener(next.sku, next.change, next.update);
    }
  }

  /**
   * Calls `listener` after every durable commit (store updates and hub writes
   * alike), in change-number order, with the update committed; returns the unsubscribe.
   */
  onCommit(listener: CommitListener): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  /** The last flush before the adapter closes; commits refused from now on do not count as a failure. */
  async close(): Promise<void> {
    this.closing = true;
    await this.flush();
  }

  async flush(): Promise<void> {
    await this.records.put(['hub', 'meta'], {
      epoch: this.epoch,
      cursor: this.current,
      clientId: this.clientId,
      neutralClientId: this.neutralClientId,
    });
    await this.adapter.flush();
  }

  private get adapter(): StorageAdapter {
    return this.docs.adapter;
  }
}
