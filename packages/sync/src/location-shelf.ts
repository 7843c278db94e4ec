import type { ShelfRights } from '@shelfsync/escrow';
import { computeStock, reservableRights, rightsOf, schemaVersion } from '@shelfsync/core';
import {
  StoreIdSchema,
  accountOwner,
  onlineAccount,
  parseAccountId,
  storeAccount,
  type StoreId,
} from '@shelfsync/protocol';
import * as Y from 'yjs';
import type { HubWriterClients } from './hub-clients.js';

/** A location's shelf as the allocator sees it: the POS's rights and the online escrow's. */
export function shelfOf(doc: Y.Doc, storeId: StoreId): ShelfRights {
  return { posRights: rightsOf(doc, storeAccount(storeId)), onlineRights: rightsOf(doc, onlineAccount(storeId)) };
}

/** A location's shelf as an online order sees it: online rights less what an override deficit owes. */
export function reservableShelf(doc: Y.Doc, storeId: StoreId): ShelfRights {
  return {
    posRights: rightsOf(doc, storeAccount(storeId)),
    onlineRights: reservableRights(doc, onlineAccount(storeId)),
  };
}

/** The stores with an account in the document. */
export function storesOf(doc: Y.Doc): StoreId[] {
  const stores: StoreId[] = [];
  for (const totals of Object.values(computeStock(doc).accounts)) {
    const parsed = parseAccountId(totals.account);
    const store = parsed?.kind === 'store' ? StoreIdSchema.safeParse(parsed.location) : undefined;
    if (store?.success === true) stores.push(store.data);
  }
  return stores;
}

/**
 * The hub's own changes of a document that decide `storeId`'s rights, so far:
 * the client id of the entry holding the store's online account, and its next
 * clock (what the store waits to hold, ADR 0016). That entry is `hub` in a
 * version 1 document, and for a store that reads only version 1 (`version1Reader`);
 * in version 2 it is `online:<storeId>`, under an id of its own. Clock 0 (under
 * the neutral id) when the hub has never written it.
 */
export function hubMark(
  doc: Y.Doc,
  clients: Pick<HubWriterClients, 'peek' | 'neutral'>,
  storeId: StoreId,
  version1Reader = false,
): { client: number; clock: number } {
  const key = version1Reader ? 'hub' : accountOwner(onlineAccount(storeId), schemaVersion(doc));
  const client = clients.peek(key) ?? clients.neutral;
  return { client, clock: Y.getState(doc.store, client) };
}
