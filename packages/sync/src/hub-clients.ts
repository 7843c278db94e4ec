import { filterUpdate, type ClientSet, type WriterClients } from '@shelfsync/core';
import type { SchemaVersion, StoreId, WriterKey } from '@shelfsync/protocol';
import type { StorageWrite } from '@shelfsync/storage';
import type * as Y from 'yjs';
import type { ClientRegistry } from './client-registry.js';

/**
 * The Yjs client ids the hub writes under (ADR 0021): its version 1 id for the
 * `hub` entry, one id of its own per version 2 key (`online:<location>`, `meta`),
 * drawn the first time the key is written and the same in every document, and a
 * neutral id documents rest on between writes, under which nothing is written.
 * All of them are reserved in the hub's client-id registry, so no store's struct
 * under one is ever accepted.
 */
export interface HubWriterClients extends WriterClients {
  /** The id `key` is written under if the hub has one yet; never draws. */
  peek(key: WriterKey): number | undefined;
  /**
   * Whether `client` writes what only a version 2 reader reads: an online
   * account's own entry, `meta`, or the neutral id. A store that reads version 1
   * is sent everything but these (docs/protocol.md, "Versions").
   */
  versionTwoOnly(client: number): boolean;
  /** The registry records of ids drawn and not on disk yet: committed with the update that uses them. */
  pendingRecords(): StorageWrite[];
  /** The writer `client` is reserved to in the hub's registry, or undefined. */
  owner(client: number): WriterKey | undefined;
  /**
   * The ids of a document of `version` that store `storeId` holds when it holds
   * only its share (ADR 0022): every id its replicas ever wrote under, its
   * location's online account's id, `meta`'s id, and in version 1 the `hub`
   * entry's id (where its grants are). Nothing else decides its rights.
   */
  storeShare(storeId: StoreId, version: SchemaVersion): Set<number>;
}

export class RegistryWriterClients implements HubWriterClients {
  constructor(
    private readonly registry: ClientRegistry,
    private readonly versionOneId: number,
    readonly neutral: number,
    /** Draws the id for a key the hub has none for yet (it may depend on the key: one cluster, one id per key). */
    private readonly draw: (key: WriterKey) => number,
  ) {}

  idFor(key: WriterKey): number {
    if (key === 'hub') return this.versionOneId;
    if (key.startsWith('store:')) throw new Error(`the hub does not write ${key}`);
    return this.registry.ownId(key, this.draw);
  }

  peek(key: WriterKey): number | undefined {
    return key === 'hub' ? this.versionOneId : this.registry.ownIdOf(key);
  }

  versionTwoOnly(client: number): boolean {
    if (client === this.neutral) return true;
    const owner = this.registry.owner(client);
    return owner === 'meta' || owner?.startsWith('online:') === true;
  }

  pendingRecords(): StorageWrite[] {
    return this.registry.pendingOwn();
  }

  owner(client: number): WriterKey | undefined {
    return this.registry.owner(client);
  }

  storeShare(storeId: StoreId, version: SchemaVersion): Set<number> {
    const share = new Set(this.registry.idsOf(`store:${storeId}`));
    for (const key of [`online:${storeId}`, 'meta'] as const) {
      const client = this.registry.ownIdOf(key);
      if (client !== undefined) share.add(client);
    }
    if (version === 1) share.add(this.versionOneId);
    return share;
  }
}

/** `update` as a store that reads only schema version 1 is sent it: without the structs of version 2's ids. */
export function version1Update(update: Uint8Array, clients: Pick<HubWriterClients, 'versionTwoOnly'>): Uint8Array {
  return filterUpdate(update, { has: (client) => !clients.versionTwoOnly(client) });
}

/** The ids of `doc` a store that reads only schema version 1 holds: all but version 2's. */
export function version1Share(doc: Y.Doc, clients: Pick<HubWriterClients, 'versionTwoOnly'>): ClientSet {
  const share = new Set<number>();
  for (const client of doc.store.clients.keys()) if (!clients.versionTwoOnly(client)) share.add(client);
  return share;
}
