import type { WriterKey } from '@shelfsync/protocol';
import * as Y from 'yjs';
import { LEDGER_MAP, META_MAP } from './schema.js';

/**
 * Who wrote under each Yjs client id a document holds, read from the first struct
 * of each id as validation reads it: a value of the ledger entry `key` is `key`'s,
 * a `meta` value the hub's. Ids whose first struct names neither are left out.
 */
export function heldClientOwners(doc: Y.Doc): Map<number, WriterKey> {
  const ledger: unknown = doc.share.get(LEDGER_MAP);
  const meta: unknown = doc.share.get(META_MAP);
  const owners = new Map<number, WriterKey>();
  for (const [client, structs] of doc.store.clients) {
    const first = structs[0];
    if (!(first instanceof Y.Item) || first.parentSub === null) continue;
    const parent: unknown = first.parent;
    if (parent === meta) owners.set(client, 'hub');
    else if (parent === ledger && isWriterKey(first.parentSub)) owners.set(client, first.parentSub);
  }
  return owners;
}

function isWriterKey(key: string): key is WriterKey {
  return key === 'hub' || key.startsWith('store:');
}
