import type { PgHubDocuments } from '@shelfsync/hub-pg';
import { StoreIdSchema, type Sku, type StoreId } from '@shelfsync/protocol';
import * as Y from 'yjs';

type StoreUpdateListener = (storeId: StoreId, sku: Sku, update: Uint8Array) => void;

/**
 * The store updates other hub nodes commit, as this node applies them from
 * the feed: each update's stores are found once (by the client ids it
 * carries, through the cluster's client-id registry), for every listener.
 */
export class ForeignStoreUpdates {
  private readonly listeners = new Set<StoreUpdateListener>();

  constructor(documents: Pick<PgHubDocuments, 'clientOwner' | 'onForeignChange'>) {
    documents.onForeignChange((sku, update) => {
      if (this.listeners.size === 0) return;
      for (const storeId of storesOf(update, documents)) {
        for (const listener of this.listeners) listener(storeId, sku, update);
      }
    });
  }

  /** Calls `listener` with each store update another node committed; returns the unsubscribe. */
  listen(listener: StoreUpdateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The stores whose chains an update extends. */
function storesOf(update: Uint8Array, documents: Pick<PgHubDocuments, 'clientOwner'>): StoreId[] {
  const stores: StoreId[] = [];
  for (const client of Y.parseUpdateMeta(update).to.keys()) {
    const owner = documents.clientOwner(client);
    const store = owner?.startsWith('store:') === true ? StoreIdSchema.safeParse(owner.slice('store:'.length)) : null;
    if (store?.success === true) stores.push(store.data);
  }
  return stores;
}
