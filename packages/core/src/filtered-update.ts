import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';

/**
 * Updates restricted to a set of Yjs client ids: the share of a SKU document a
 * replica holds (its own id, the ids of the accounts it follows, the id that
 * writes `meta`). Yjs has no such encoder: `diffUpdate` and
 * `encodeStateAsUpdate` cut by clock, never by client, and always carry the
 * whole delete set. A delete range of a client the receiver never gets stays
 * in its `pendingDs` for good, and a store session that sees pending state
 * asks the hub for the difference again after every update; so both the
 * structs and the delete set are filtered here.
 *
 * A share is self-contained only if no struct in it depends on a struct
 * outside it. That holds when each map key is only ever written by ids inside
 * the share: a map value's origin is the value it overwrites, so a key whose
 * writer moved to a new id needs the old id too (docs/crdt.md).
 *
 * Everything is Yjs update format v1, the only one this codebase sends.
 */

/** A set of Yjs client ids: the share of a document a replica holds. */
export type ClientSet = ReadonlySet<number>;

/** Which Yjs client ids to keep, when the set is better said than listed (every id but some). */
export type ClientFilter = Pick<ClientSet, 'has'>;

/** A run of one client's structs written as one block of an update: `structs[from..]`, the first one cut by `offset`. */
interface StructBlock {
  readonly client: number;
  readonly structs: readonly (Y.Item | Y.GC | Y.Skip)[];
  readonly from: number;
  readonly offset: number;
}

/** Delete ranges by client, as Yjs' `DeleteSet` holds them. */
type DeleteRanges = ReadonlyMap<number, readonly { readonly clock: number; readonly len: number }[]>;

const EMPTY_STATE_VECTOR = new Uint8Array([0]);

/**
 * The same update with only the structs (Items, GC and Skip) and delete
 * ranges of `clients`. Blocks and ranges keep their order; structs are written
 * again by Yjs' own `write`, so the result is byte for byte what Yjs'
 * `diffUpdate(update, emptyStateVector)` gives when every client is kept.
 * That differs from the input only in one flag bit Yjs' update readers drop
 * too (a value's map key when it has an origin); the resulting document is the
 * same. Throws when the bytes do not decode.
 */
export function filterUpdate(update: Uint8Array, clients: ClientFilter): Uint8Array {
  const { structs, ds } = Y.decodeUpdate(update);
  const blocks: StructBlock[] = [];
  // Yjs decodes the blocks one after the other: a block is a run of structs of one client.
  let end: number;
  for (let start = 0; start < structs.length; start = end) {
    const client = structs[start]?.id.client;
    end = start + 1;
    while (end < structs.length && structs[end]?.id.client === client) end++;
    if (client !== undefined && clients.has(client)) {
      blocks.push({ client, structs: structs.slice(start, end), from: 0, offset: 0 });
    }
  }
  return encodeUpdate(blocks, keepClients(ds.clients, clients));
}

/**
 * Every client id an update touches: those of its structs and of its delete
 * ranges. A replica whose share holds none of them has nothing to take from it.
 * Throws when the bytes do not decode.
 */
export function updateClients(update: Uint8Array): Set<number> {
  const { structs, ds } = Y.decodeUpdate(update);
  const clients = new Set<number>(ds.clients.keys());
  for (const struct of structs) clients.add(struct.id.client);
  return clients;
}

/**
 * What a replica holding the share `clients` of `doc` lacks, given its state
 * vector (everything when omitted): `Y.encodeStateAsUpdate(doc, remote)`
 * restricted to those clients, delete set included, and byte for byte equal to
 * it when `clients` holds every client of `doc`. Pending structs and deletes of
 * `doc` are merged in as Yjs does. Costs the share's size, not the document's:
 * structs of other clients are never visited.
 */
export function encodeShare(
  doc: Y.Doc,
  clients: ClientSet,
  remoteStateVector: Uint8Array = EMPTY_STATE_VECTOR,
): Uint8Array {
  const remote = Y.decodeStateVector(remoteStateVector);
  const blocks: StructBlock[] = [];
  const deletes = new Map<number, { clock: number; len: number }[]>();
  for (const client of clients) {
    const structs = doc.store.clients.get(client);
    const first = structs?.[0];
    const last = structs?.at(-1);
    if (structs === undefined || first === undefined || last === undefined) continue;
    const ranges = deletedRanges(structs);
    if (ranges.length > 0) deletes.set(client, ranges);
    const clock = Math.max(remote.get(client) ?? 0, first.id.clock);
    if (clock >= last.id.clock + last.length) continue;
    const from = Y.findIndexSS(structs, clock);
    const offset = clock - (structs[from]?.id.clock ?? clock);
    blocks.push({ client, structs, from, offset });
  }
  // Yjs writes higher client ids first (its conflict resolution integrates them first).
  blocks.sort((a, b) => b.client - a.client);
  const update = encodeUpdate(blocks, deletes);
  return withPending(doc, update, clients, remoteStateVector);
}

/** The state vector of the share `clients` of `doc`: what a replica holding all of it would announce. */
export function shareStateVector(doc: Y.Doc, clients: ClientSet): Uint8Array {
  const state = new Map<number, number>();
  for (const client of clients) {
    const clock = Y.getState(doc.store, client);
    if (clock > 0) state.set(client, clock);
  }
  return Y.encodeStateVector(state);
}

/**
 * Writes an update in Yjs' v1 layout: the number of blocks, then per block its
 * struct count, client and first clock, then the structs; then the delete set,
 * higher client ids first as Yjs' `writeDeleteSet` does.
 */
function encodeUpdate(blocks: readonly StructBlock[], deletes: DeleteRanges): Uint8Array {
  const encoder = new Y.UpdateEncoderV1();
  const rest = encoder.restEncoder;
  encoding.writeVarUint(rest, blocks.length);
  for (const { client, structs, from, offset } of blocks) {
    const first = structs[from];
    if (first === undefined) throw new Error(`empty block for client ${client}`);
    encoding.writeVarUint(rest, structs.length - from);
    encoder.writeClient(client);
    encoding.writeVarUint(rest, first.id.clock + offset);
    first.write(encoder, offset);
    for (let i = from + 1; i < structs.length; i++) structs[i]?.write(encoder, 0);
  }
  const clients = [...deletes.keys()].sort((a, b) => b - a);
  encoding.writeVarUint(rest, clients.length);
  for (const client of clients) {
    const ranges = deletes.get(client) ?? [];
    encoder.resetDsCurVal();
    encoding.writeVarUint(rest, client);
    encoding.writeVarUint(rest, ranges.length);
    for (const { clock, len } of ranges) {
      encoder.writeDsClock(clock);
      encoder.writeDsLen(len);
    }
  }
  return encoder.toUint8Array();
}

/** The delete ranges of `clients` only; a client without ranges is left out, as Yjs' reader leaves it out. */
function keepClients(ranges: DeleteRanges, clients: ClientFilter): DeleteRanges {
  const kept = new Map<number, readonly { clock: number; len: number }[]>();
  for (const [client, list] of ranges) if (clients.has(client) && list.length > 0) kept.set(client, list);
  return kept;
}

/**
 * One client's deleted runs, as Yjs' `createDeleteSetFromStructStore` finds
 * them: adjacent deleted structs (GC structs count as deleted) make one range.
 */
function deletedRanges(structs: readonly (Y.Item | Y.GC)[]): { clock: number; len: number }[] {
  const ranges: { clock: number; len: number }[] = [];
  let open: { clock: number; len: number } | null = null;
  for (const struct of structs) {
    if (!struct.deleted) {
      open = null;
    } else if (open === null) {
      open = { clock: struct.id.clock, len: struct.length };
      ranges.push(open);
    } else {
      open.len += struct.length;
    }
  }
  return ranges;
}

/**
 * Adds the share's part of what `doc` holds pending (structs it cannot
 * integrate yet, deletes of structs it lacks), as `Y.encodeStateAsUpdate`
 * does. Yjs keeps both in update format v2. An honest hub holds none, since
 * validation refuses updates that would be pending.
 */
function withPending(doc: Y.Doc, update: Uint8Array, clients: ClientSet, remoteStateVector: Uint8Array): Uint8Array {
  const { pendingDs, pendingStructs } = doc.store;
  if (pendingDs === null && pendingStructs === null) return update;
  const parts = [update];
  if (pendingDs !== null) parts.push(filterUpdate(Y.convertUpdateFormatV2ToV1(pendingDs), clients));
  if (pendingStructs !== null) {
    const pending = Y.diffUpdate(Y.convertUpdateFormatV2ToV1(pendingStructs.update), remoteStateVector);
    parts.push(filterUpdate(pending, clients));
  }
  return Y.mergeUpdates(parts);
}
