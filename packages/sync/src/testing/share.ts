import { ledgerOf, schemaVersion } from '@shelfsync/core';
import type { StoreId } from '@shelfsync/protocol';
import * as Y from 'yjs';
import type { HubWriterClients } from '../hub-clients.js';

/**
 * Why a store's replica of a SKU is not what it should hold of the hub's
 * document, or null when it is: all of it for a whole replica (equal state
 * vectors), or, for a store that holds only its share (protocol 7), every id
 * of its share at the hub's clock, nothing pending, and nothing at all when the
 * hub's document names none of its location's accounts. What "converged" means
 * for a chain of share replicas.
 */
export function shareMismatch(
  hubDoc: Y.Doc,
  storeDoc: Y.Doc,
  store: { readonly id: StoreId; readonly holdsShare: boolean },
  clients: Pick<HubWriterClients, 'storeShare' | 'owner'>,
): string | null {
  const at = Y.decodeStateVector(Y.encodeStateVector(hubDoc));
  const there = Y.decodeStateVector(Y.encodeStateVector(storeDoc));
  if (storeDoc.store.pendingStructs !== null || storeDoc.store.pendingDs !== null) return 'it holds pending changes';
  if (!store.holdsShare) {
    const same = at.size === there.size && [...at].every(([client, clock]) => there.get(client) === clock);
    return same ? null : 'its state vector differs from the hub’s';
  }
  const ledger = ledgerOf(hubDoc);
  if (!ledger.has(`store:${store.id}`) && !ledger.has(`online:${store.id}`)) {
    return ledgerOf(storeDoc).has(`store:${store.id}`) ? 'it holds an entry the hub lacks' : null;
  }
  for (const client of clients.storeShare(store.id, schemaVersion(hubDoc))) {
    const [hubClock, storeClock] = [at.get(client) ?? 0, there.get(client) ?? 0];
    if (hubClock !== storeClock) {
      const owner = clients.owner(client) ?? 'an unknown writer';
      return `${owner}'s client ${client} is at clock ${storeClock} at ${store.id}, the hub's at ${hubClock}`;
    }
  }
  return null;
}
