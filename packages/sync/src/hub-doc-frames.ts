import { validateUpdate } from '@shelfsync/core';
import {
  ErrorCode,
  SkuSchema,
  storeWriter,
  writerKey,
  type ErrorCode as Code,
  type Sku,
  type StoreId,
} from '@shelfsync/protocol';
import type { StorageWrite } from '@shelfsync/storage';
import * as Y from 'yjs';
import type { ErrorMessage } from './control.js';
import type { DocFrame } from './frames.js';
import type { HubDocuments } from './hub-sync.js';

/**
 * The step 2 answering a store's step 1 of `sku`: what the hub's document holds
 * beyond the store's `stateVector`, encoded while none of the hub's own writes of
 * the SKU is in flight (`readDurable`). Null for a malformed state vector;
 * rejects once the hub's storage has failed.
 */
export function step2For(
  documents: Pick<HubDocuments, 'readDurable'>,
  sku: Sku,
  doc: Y.Doc,
  stateVector: Uint8Array,
): Promise<Uint8Array | null> {
  return documents.readDurable(sku, () => {
    try {
      return Y.encodeStateAsUpdate(doc, stateVector);
    } catch {
      return null;
    }
  });
}

/** What became of a store's update once judged and applied, before it is committed. */
export type StoreUpdate =
  | { readonly ok: false; readonly code: Code; readonly detail: string }
  /** Valid, and the hub's document held all of it already: nothing to commit. */
  | { readonly ok: true; readonly applied: null }
  /** Applied: commit `applied` (what actually changed) with `reservations`, the client ids it introduced. */
  | { readonly ok: true; readonly applied: Uint8Array; readonly reservations: StorageWrite[] };

/**
 * Judges a store's update against the hub's document (`validateUpdate`: its
 * writer, its client ids, the rights it spends) and, when it changes anything,
 * reserves the client ids it introduces and applies it with `origin`, all in one
 * tick. Returns what to commit: Yjs' own incremental update, not the store's
 * bytes, since a step 2 also carries the store's whole delete set.
 */
export function applyStoreUpdate(
  documents: Pick<HubDocuments, 'clientOwner' | 'reserveClients'>,
  storeId: StoreId,
  doc: Y.Doc,
  payload: Uint8Array,
  maxDeficit: number,
  origin: unknown,
): StoreUpdate {
  const writer = storeWriter(storeId);
  const verdict = validateUpdate(doc, payload, writer, {
    maxDeficit,
    clientOwner: (client) => documents.clientOwner(client),
  });
  if (!verdict.ok) return { ok: false, code: verdict.error.code, detail: verdict.error.detail };
  if (!verdict.value.changed) return { ok: true, applied: null };
  // In the same tick as the verdict: no other writer's update can claim these ids in between.
  const reservations = documents.reserveClients(writerKey(writer), verdict.value.clients);
  if (typeof reservations === 'string') return { ok: false, code: ErrorCode.UpdateClientIdTaken, detail: reservations };
  let applied: Uint8Array | null = null;
  const capture = (update: Uint8Array, by: unknown): void => {
    if (by === origin) applied = update;
  };
  doc.on('update', capture);
  try {
    Y.applyUpdate(doc, payload, origin);
  } finally {
    doc.off('update', capture);
  }
  return { ok: true, applied: applied ?? payload, reservations };
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
