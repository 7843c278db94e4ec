import { SkuSchema, type ErrorCode as Code, type Sku } from '@shelfsync/protocol';
import { encodeShare, type ClientSet } from '@shelfsync/core';
import * as Y from 'yjs';
import type { ErrorMessage } from './control.js';
import type { DocFrame } from './frames.js';
import type { HubDocuments } from './hub-sync.js';

/**
 * The step 2 answering a store's step 1 of `sku`: what the hub's document holds
 * beyond the store's `stateVector`, encoded while none of the hub's own writes of
 * the SKU is in flight (`readDurable`), restricted to the ids of `share` when
 * the store holds only part of the document. Null for a malformed state vector;
 * rejects once the hub's storage has failed.
 */
export function step2For(
  documents: Pick<HubDocuments, 'readDurable'>,
  sku: Sku,
  doc: Y.Doc,
  stateVector: Uint8Array,
  share?: ClientSet,
): Promise<Uint8Array | null> {
  return documents.readDurable(sku, () => {
    try {
      return share === undefined ? Y.encodeStateAsUpdate(doc, stateVector) : encodeShare(doc, share, stateVector);
    } catch {
      return null;
    }
  });
}

/** The error refusing a store's DOC frame: its code and why, with the SKU (when it is one) and the frame's reference. */
export function refusalOf(frame: DocFrame, code: Code, detail: string): ErrorMessage {
  const sku = SkuSchema.safeParse(frame.sku);
  return {
    type: 'error',
    code,
    detail,
    ...(sku.success ? { sku: sku.data } : {}),
    ...(frame.ref > 0 ? { ref: frame.ref } : {}),
  };
}
