import { computeStock, reservableRights, rightsOf } from '@shelfsync/core';
import type { ShelfRights } from '@shelfsync/escrow';
import { StoreIdSchema, onlineAccount, parseAccountId, storeAccount, type StoreId } from '@shelfsync/protocol';
import * as Y from 'yjs';

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

/** The hub's own changes of a document so far: its client id and next clock (what a store waits to hold). */
export function hubMark(doc: Y.Doc): { client: number; clock: number } {
  return { client: doc.clientID, clock: Y.getState(doc.store, doc.clientID) };
}
