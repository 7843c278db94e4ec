import type { Sku, WriterKey } from '@shelfsync/protocol';
import type { StorageWrite } from '@shelfsync/storage';
import type * as Y from 'yjs';
import type { HubChangeLog } from './hub-change-log.js';
import type { HubWriterClients } from './hub-clients.js';
import type { PinnedDoc } from './persisted-docs.js';

/**
 * What the hub's sync needs from the hub's storage: its change log (which a
 * server database may keep; see `HubChangeLog`), and the SKU documents with
 * the hub's own writes to them.
 */
export interface HubDocuments extends HubChangeLog {
  /** The SKU's document, loaded on first use (an empty one for a new SKU). */
  open(sku: Sku): Promise<Y.Doc>;
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
  /** The client ids the hub writes under (one per key in schema version 2) and the neutral one documents rest on. */
  readonly writerClients: HubWriterClients;
  /**
   * Whether this process may perform the hub's writes of `sku` now (a cluster
   * node owns its shard); absent: it performs every one.
   */
  ownsSku?(sku: Sku): boolean;
}

/**
 * The hub's documents as its process runs them: `HubDocuments`, with what the
 * composition root needs around it. `HubStorage` (one process, its own storage)
 * and a cluster's documents (packages/hub-pg) are the two.
 */
export interface HubDocumentStore extends HubDocuments {
  /** The SKU's document, kept in memory until released (for live readers that subscribe to it). */
  pin(sku: Sku): Promise<PinnedDoc>;
  /** Drops idle documents whose every change is stored; returns how many went. */
  evictIdle(): number;
  residencyStats(): { resident: number; evictions: number };
  /** Why a commit failed (the hub must stop serving: memory may be ahead of what is stored), or null. */
  readonly failed: Error | null;
  onFailure(listener: (error: Error) => void): void;
  /**
   * Hears each change another hub process committed, once this one's document
   * holds it, to relay to this process's stores (absent for a single process).
   */
  onForeignChange?(listener: (sku: Sku, update: Uint8Array, change: number, doc: Y.Doc) => void): () => void;
  /** Settles what is in flight and stops; the storage under it is closed by its owner. */
  close(): Promise<void>;
}
