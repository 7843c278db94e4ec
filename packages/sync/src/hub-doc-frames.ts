import { SkuSchema, type ErrorCode as Code, type Sku, type StoreId } from '@shelfsync/protocol';
import { encodeShare, schemaVersion, type ClientSet } from '@shelfsync/core';
import * as Y from 'yjs';
import { SCHEMA_2_PROTOCOL, SHARE_PROTOCOL, type ErrorMessage } from './control.js';
import { version1Share, type HubWriterClients } from './hub-clients.js';
import { SyncMessageType, decodeFrame, encodeDocFrame, type DocFrame } from './frames.js';
import type { HubDocuments } from './hub-sync.js';

/**
 * The step 2 answering a store's step 1 of `sku`: what the hub's document holds
 * beyond the store's `stateVector`, encoded while none of the hub's own writes of
 * the SKU is in flight (`readDurable`), restricted to the ids `share` gives when
 * the store holds only part of the document. `share` is asked at encoding time:
 * a hub write queued before it may draw an id the share must hold (the first
 * write of `meta` or of an online account), and its relay went past a store
 * waiting for this answer. Null for a malformed state vector; rejects once the
 * hub's storage has failed.
 */
export function step2For(
  documents: Pick<HubDocuments, 'readDurable'>,
  sku: Sku,
  doc: Y.Doc,
  stateVector: Uint8Array,
  share: () => ClientSet | undefined = () => undefined,
): Promise<Uint8Array | null> {
  return documents.readDurable(sku, () => {
    try {
      const clients = share();
      return clients === undefined ? Y.encodeStateAsUpdate(doc, stateVector) : encodeShare(doc, clients, stateVector);
    } catch {
      return null;
    }
  });
}

/** A frame that carries a store's changes (a DOC update or step 2), or null for anything else or what does not decode. */
export function changeFrameOf(bytes: Uint8Array): DocFrame | null {
  try {
    const frame = decodeFrame(bytes);
    return frame.kind === 'doc' && frame.type !== SyncMessageType.Step1 ? frame : null;
  } catch {
    return null;
  }
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

const EMPTY_STATE_VECTOR = new Uint8Array([0]);
/** An update with no struct and no deletion: two empty counts. */
const EMPTY_UPDATE_BYTES = 2;

/**
 * The ids of `doc` a store speaking `protocol` holds: its share (protocol 7 on),
 * version 1's ids (before 6), or undefined for the whole document.
 */
export function storeShareOf(
  clients: HubWriterClients,
  storeId: StoreId,
  doc: Y.Doc,
  protocol: number,
): ClientSet | undefined {
  if (protocol >= SHARE_PROTOCOL) return clients.storeShare(storeId, schemaVersion(doc));
  return protocol >= SCHEMA_2_PROTOCOL ? undefined : version1Share(doc, clients);
}

/**
 * The frames answering a store's step 1 of `sku` (its `stateVector`): the step 2
 * of what it lacks of what it holds (`storeShareOf`), then the hub's own step 1.
 * `malformed` for a state vector that does not decode. Rejects when the read
 * fails (storage failed, or a cluster node's database is away).
 */
export async function step1Answer(
  documents: Pick<HubDocuments, 'open' | 'readDurable' | 'writerClients'>,
  storeId: StoreId,
  protocol: number,
  sku: Sku,
  stateVector: Uint8Array,
): Promise<Uint8Array[] | 'malformed'> {
  const doc = await documents.open(sku);
  // A read that fails (storage failed, or a cluster node's database is away) rejects: the
  // session closes and the store asks again on its next connection, never left unanswered.
  const diff = await step2For(documents, sku, doc, stateVector, () =>
    storeShareOf(documents.writerClients, storeId, doc, protocol),
  );
  if (diff === null) return 'malformed';
  return [
    encodeDocFrame(sku, 0, SyncMessageType.Step2, diff),
    encodeDocFrame(sku, 0, SyncMessageType.Step1, Y.encodeStateVector(doc)),
  ];
}

/**
 * What a store that has just begun to hold `sku` lacks of its share, beyond
 * its own entries, as an update frame of no change number: `meta` and its
 * online account, which relays of earlier changes never brought it. Without
 * `meta` it would read the document as version 1 and miss its grants, and
 * nothing later would show it a gap: a first grant starts a new entry. Encoded
 * while none of the hub's own writes of the SKU is in flight (`readDurable`);
 * null when there is nothing to send; rejects when the read fails.
 */
export async function restOfShare(
  documents: Pick<HubDocuments, 'open' | 'readDurable' | 'writerClients'>,
  storeId: StoreId,
  sku: Sku,
): Promise<Uint8Array | null> {
  const doc = await documents.open(sku);
  const clients = documents.writerClients;
  const rest = (): ClientSet => {
    const share = clients.storeShare(storeId, schemaVersion(doc));
    for (const client of share) if (clients.owner(client) === `store:${storeId}`) share.delete(client);
    return share;
  };
  // A failed read rejects (the session closes, the change stays dirty at the store): never an answer without it.
  const update = await step2For(documents, sku, doc, EMPTY_STATE_VECTOR, rest);
  if (update === null || update.byteLength <= EMPTY_UPDATE_BYTES) return null;
  return encodeDocFrame(sku, 0, SyncMessageType.Update, update);
}
