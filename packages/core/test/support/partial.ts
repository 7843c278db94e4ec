import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';

/**
 * The part of `doc` written under `clients`, as one v1 update: their structs
 * and their deletions, nothing of any other client. Yjs encodes only the
 * structs a state vector lacks, so a vector claiming every other client in
 * full yields exactly theirs; its delete set is the whole document's, so it is
 * cut off and replaced by the ranges of `clients` alone.
 */
export function updateOfClients(doc: Y.Doc, clients: ReadonlySet<number>): Uint8Array {
  const others = new Map<number, number>();
  for (const client of doc.store.clients.keys()) {
    if (!clients.has(client)) others.set(client, Y.getState(doc.store, client));
  }
  const structs = Y.encodeStateAsUpdate(doc, Y.encodeStateVector(others));
  // No structs (one byte: a count of 0), then the whole delete set.
  const wholeDs = Y.encodeStateAsUpdate(doc, Y.encodeStateVector(doc)).subarray(1);
  const tail = structs.subarray(structs.byteLength - wholeDs.byteLength);
  if (!tail.every((byte, i) => byte === wholeDs[i])) throw new Error('the update does not end with the delete set');

  const encoder = encoding.createEncoder();
  encoding.writeUint8Array(encoder, structs.subarray(0, structs.byteLength - wholeDs.byteLength));
  const ds = [...Y.createDeleteSetFromStructStore(doc.store).clients].filter(([client]) => clients.has(client));
  encoding.writeVarUint(encoder, ds.length);
  for (const [client, ranges] of ds) {
    encoding.writeVarUint(encoder, client);
    encoding.writeVarUint(encoder, ranges.length);
    for (const { clock, len } of ranges) {
      encoding.writeVarUint(encoder, clock);
      encoding.writeVarUint(encoder, len);
    }
  }
  return encoding.toUint8Array(encoder);
}
