import type { Sku } from '@shelfsync/protocol';
import * as Y from 'yjs';
import { migrateToV2 } from './migrate.js';
import { META_MAP, SCHEMA_VERSION } from './schema.js';
import { schemaVersion, type WriterClients } from './version.js';

export interface SkuDocOptions {
  /**
   * Yjs client id. Leave unset for a fresh random id, which is the safe default:
   * an id may only be reused by a replica whose durable state holds every update
   * it ever sent under that id (see docs/crdt.md, replica safety rules).
   */
  readonly clientID?: number;
}

/** A new, empty SKU document. Garbage collection stays on: it is what keeps the document bounded. */
export function createSkuDoc(options: SkuDocOptions = {}): Y.Doc {
  const doc = new Y.Doc({ gc: true });
  if (options.clientID !== undefined) doc.clientID = options.clientID;
  return doc;
}

/**
 * Writes the document metadata, which only the hub owns; it does this once per
 * SKU. Writes nothing when it is already there.
 *
 * Without `clients`: version 1, under the document's client id; never over a
 * version 2 document (its readers would drop every online entry). With
 * `clients`: version 2, under `clients.idFor('meta')`, through migrateToV2, so a
 * document that holds a version 1 `hub` entry has its accounts moved first;
 * throws when migrateToV2 refuses (another SKU's document, ids in use).
 */
export function initMeta(doc: Y.Doc, sku: Sku, origin: unknown = null, clients?: WriterClients): void {
  const meta = doc.getMap(META_MAP);
  const version = schemaVersion(doc);
  if (clients !== undefined) {
    if (version === 2 && meta.get('sku') === sku) return;
    const migrated = migrateToV2(doc, sku, clients, origin);
    if (!migrated.ok) throw new Error(migrated.error.detail);
    return;
  }
  if (version === 2 || (meta.get('schema') === SCHEMA_VERSION && meta.get('sku') === sku)) return;
  doc.transact(() => {
    meta.set('schema', SCHEMA_VERSION);
    meta.set('sku', sku);
  }, origin);
}
