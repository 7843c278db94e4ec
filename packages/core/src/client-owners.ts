import { ErrorCode, fail, parseAccountId, type Result, type WriterKey } from '@shelfsync/protocol';
import * as Y from 'yjs';
import { LEDGER_MAP, META_MAP } from './schema.js';
import { schemaVersion } from './version.js';

/**
 * Who wrote under each Yjs client id a document holds, read from the first struct
 * of each id as validation reads it: a value of the ledger entry `key` is `key`'s,
 * a `meta` value the hub's (in a version 2 document, `meta`'s). Ids whose first
 * struct names neither are left out.
 */
export function heldClientOwners(doc: Y.Doc): Map<number, WriterKey> {
  const metaOwner: WriterKey = schemaVersion(doc) === 2 ? 'meta' : 'hub';
  const owners = new Map<number, WriterKey>();
  for (const client of doc.store.clients.keys()) {
    const key = firstKeyOf(doc, client);
    if (key !== undefined) owners.set(client, key === 'meta' ? metaOwner : key);
  }
  return owners;
}

/**
 * The key the first struct of `client` wrote: a writer's ledger key, or `meta`
 * for a value of the metadata map; undefined for an id the document has not
 * seen or whose first struct is neither.
 */
export function firstKeyOf(doc: Y.Doc, client: number): WriterKey | undefined {
  const first = doc.store.clients.get(client)?.[0];
  if (!(first instanceof Y.Item) || first.parentSub === null) return undefined;
  const parent: unknown = first.parent;
  if (parent === doc.share.get(META_MAP)) return 'meta';
  if (parent === doc.share.get(LEDGER_MAP) && isWriterKey(first.parentSub)) return first.parentSub;
  return undefined;
}

function isWriterKey(key: string): key is WriterKey {
  return key === 'hub' || key.startsWith('store:') || parseAccountId(key)?.kind === 'online';
}

/**
 * Refuses to write `key` under `client` when that id already wrote another key
 * of this document, or is the neutral id: each id writes one key for its whole
 * life, or the document grows by a struct per write and a replica that holds
 * only some entries cannot apply them. (The version 1 hub's id may have written
 * `meta` first: in version 1 the hub owns both.)
 */
export function checkClientFor(doc: Y.Doc, key: WriterKey, client: number, neutral: number): Result<never> | null {
  const first = Y.getState(doc.store, client) > 0 ? firstKeyOf(doc, client) : key;
  if (client === neutral || (first !== key && !(key === 'hub' && first === 'meta'))) {
    return fail(ErrorCode.UpdateClientIdTaken, `client id ${client} may not write ${key}`, { client });
  }
  return null;
}
