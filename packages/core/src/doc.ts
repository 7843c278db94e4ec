import type { Sku } from '@shelfsync/protocol';
import * as Y from 'yjs';
import { META_MAP, SCHEMA_VERSION } from './schema.js';

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

/** Writes the document metadata, which only the hub owns; it does this once per SKU. Writes nothing when it is already there. */
export function initMeta(doc: Y.Doc, sku: Sku, origin: unknown = null): void {
  const meta = doc.getMap(META_MAP);
  if (meta.get('schema') === SCHEMA_VERSION && meta.get('sku') === sku) return;
  doc.transact(() => {
    meta.set('schema', SCHEMA_VERSION);
    meta.set('sku', sku);
  }, origin);
}
