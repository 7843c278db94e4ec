import type { PgHubDocuments } from '@shelfsync/hub-pg';
import { StoreIdSchema, type StoreId } from '@shelfsync/protocol';
import * as Y from 'yjs';

/** The stores whose chains an update extends, by the client ids it carries (the cluster's client-id registry). */
export function storesOf(update: Uint8Array, documents: Pick<PgHubDocuments, 'clientOwner'>): StoreId[] {
  const stores: StoreId[] = [];
  for (const client of Y.parseUpdateMeta(update).to.keys()) {
    const owner = documents.clientOwner(client);
    const store = owner?.startsWith('store:') === true ? StoreIdSchema.safeParse(owner.slice('store:'.length)) : null;
    if (store?.success === true) stores.push(store.data);
  }
  return stores;
}
