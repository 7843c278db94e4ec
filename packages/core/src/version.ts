import type { SchemaVersion, WriterKey } from '@shelfsync/protocol';
import type * as Y from 'yjs';
import { META_MAP, SCHEMA_VERSION_2 } from './schema.js';

/**
 * The schema version of a document: 2 iff `meta.schema` is 2. Documents written
 * before version 2 have no `meta` map at all, and read as version 1.
 */
export function schemaVersion(doc: Y.Doc): SchemaVersion {
  // Read without creating the map: asking must not change what a document holds.
  const item = doc.share.get(META_MAP)?._map.get('schema');
  if (item === undefined || item.deleted) return 1;
  return item.content.getContent()[item.length - 1] === SCHEMA_VERSION_2 ? 2 : 1;
}

/**
 * The Yjs client ids the hub writes under. In a version 2 document each of its
 * writer keys (`online:<location>`, `meta`) has an id of its own, the same in
 * every SKU document and kept with the hub's identities for as long as the hub
 * has them (an id must write one key for its whole life: Yjs merges a client's
 * overwritten values only when they follow each other on one key). `idFor('hub')`
 * is the id of the version 1 entry. Between writes the document holds `neutral`,
 * an id nothing is written under.
 */
export interface WriterClients {
  idFor(key: WriterKey): number;
  readonly neutral: number;
}

/**
 * Runs `change` as one transaction under the client id `client`, then puts
 * `neutral` back, also when `change` throws. Yjs takes an item's id from
 * `doc.clientID` as it creates it, so setting it just before is enough. The
 * neutral id in between matters: Yjs silently moves `doc.clientID` to a new
 * random id when a remote update carries structs of the current one.
 */
export function transactAs(doc: Y.Doc, client: number, neutral: number, change: () => void, origin: unknown): void {
  doc.clientID = client;
  try {
    doc.transact(change, origin);
  } finally {
    doc.clientID = neutral;
  }
}
