import { ErrorCode, fail, ok, ownsKey, writerKey, type Result, type Writer, type WriterKey } from '@shelfsync/protocol';
import * as Y from 'yjs';
import { checkEntry, checkMeta } from './check-value.js';
import { LEDGER_MAP, META_MAP } from './schema.js';
import { decodeStrict, type DecodedUpdate } from './strict-decode.js';
import { schemaVersion } from './version.js';

/** Updates above this size are refused before they are decoded. */
export const MAX_UPDATE_BYTES = 1024 * 1024;

/** What an accepted update does: `changed` is false for an update the document already holds. */
export interface UpdateAcceptance {
  readonly changed: boolean;
  /**
   * The Yjs client ids under which the update adds structs the document lacks
   * (empty when it adds none): the hub records each new one as the writer's.
   */
  readonly clients: readonly number[];
}

type RootName = typeof LEDGER_MAP | typeof META_MAP;

/** Where a struct lives: one key of one of the two top-level maps. */
interface Slot {
  readonly root: RootName;
  readonly key: string;
}

/** A struct of the update that the document does not hold yet. */
interface NewItem {
  readonly item: Y.Item;
  /** First and one-past-last clock the document does not hold yet. */
  readonly clock: number;
  readonly end: number;
  /** The value this one builds on, as Yjs reads it (for a partly held struct: its own clock - 1). */
  readonly origin: Y.ID | null;
  deleted: boolean;
  slot: Slot | null;
}

type Rejection = Result<never>;

/**
 * Decides whether `update`, sent by `writer`, may be applied to `doc`, without
 * modifying `doc`. The update's structs are read and resolved against the
 * document (a new item's map key comes from its origin, as Yjs does), and it is
 * accepted only when:
 *
 * - it decodes with no byte left over, holds no object key `__proto__`, has
 *   no gaps and needs no operation the document lacks;
 * - every struct it adds is a JSON value (or a deleted one) under a key of
 *   `ledger` or `meta` the writer owns in the document's version (a store: its
 *   own ledger key, in both versions; see ownsKey), under a Yjs client id
 *   no other writer has used in this document or, by `clientOwner`, in any
 *   other, and every item it newly deletes is the writer's own;
 * - the writer's new values form one chain from the value the document holds
 *   (no concurrent rewrite of the writer's own entry, as a replica that lost its
 *   state would make);
 * - the resulting entry parses, holds only accounts the writer owns and
 *   transfers between one store's two accounts, lowers no total, and leaves
 *   every account of the writer with non-negative rights.
 *
 * Anything else is rejected with a coded reason. Only the shapes our own
 * writers produce are accepted; that is deliberate.
 */
export interface ValidationLimits {
  /**
   * The largest manager-override deficit (`o - c`) a store account may carry; an
   * update past it is refused with OVERRIDE_CAP_EXCEEDED. Default: no limit (the
   * hub passes its configured cap, 0 unless the override is enabled).
   */
  readonly maxDeficit?: number;
  /**
   * The writer a Yjs client id is reserved to, in every document (undefined: not
   * reserved). The hub passes its durable registry, so no store writes under the
   * hub's id or another store's in a document that id has not written yet.
   */
  readonly clientOwner?: (client: number) => WriterKey | undefined;
}

export function validateUpdate(
  doc: Y.Doc,
  update: Uint8Array,
  writer: Writer,
  limits: ValidationLimits = {},
): Result<UpdateAcceptance> {
  if (update.byteLength > MAX_UPDATE_BYTES) {
    return fail(ErrorCode.UpdateTooLarge, `update of ${update.byteLength} bytes exceeds ${MAX_UPDATE_BYTES}`);
  }
  let decoded: DecodedUpdate;
  try {
    const strict = decodeStrict(update);
    if (strict.fault === 'forbidden-key') {
      // Yjs would turn it into the value's prototype, so the schema would never see it.
      return fail(ErrorCode.UpdateInvalidValue, 'update holds a value with the object key "__proto__"');
    }
    if (strict.fault === 'trailing-bytes') {
      // Yjs stops reading after the delete set and would apply the prefix.
      return fail(ErrorCode.UpdateMalformed, 'update carries bytes after its end');
    }
    decoded = strict.decoded;
  } catch (error) {
    return fail(ErrorCode.UpdateMalformed, `update does not decode: ${describe(error)}`);
  }
  const own = writerKey(writer);
  const version = schemaVersion(doc);
  const store = doc.store;
  const ledgerType: unknown = doc.share.get(LEDGER_MAP);
  const metaType: unknown = doc.share.get(META_MAP);
  const slotOfHeld = (struct: Y.Item | Y.GC): Slot | null => {
    if (!(struct instanceof Y.Item) || struct.parentSub === null) return null;
    const parent: unknown = struct.parent;
    if (parent === undefined || parent === null) return null;
    if (parent === ledgerType) return { root: LEDGER_MAP, key: struct.parentSub };
    if (parent === metaType) return { root: META_MAP, key: struct.parentSub };
    return null;
  };
  // The writer key a slot belongs to: `meta` for the metadata map (the hub's in version 1, see ownsKey).
  const keyOf = (slot: Slot): string => (slot.root === META_MAP ? 'meta' : slot.key);
  const owns = (slot: Slot): boolean => ownsKey(writer, keyOf(slot), version);

  // 1. The structs the document lacks: contiguous per client, of allowed kinds,
  //    under client ids this writer already uses (or new ones).
  const newItems = new Map<number, NewItem[]>();
  const findNew = (client: number, clock: number): NewItem | undefined =>
    newItems.get(client)?.find((n) => n.clock <= clock && clock < n.end);
  for (const struct of decoded.structs) {
    const client = struct.id.client;
    const held = Y.getState(store, client);
    const end = struct.id.clock + struct.length;
    // Yjs never writes empty structs; it would not advance past one either.
    if (!(struct.length > 0))
      return fail(ErrorCode.UpdateMalformed, `update holds an empty struct of client ${client}`);
    if (struct instanceof Y.Skip) {
      if (end > held) return fail(ErrorCode.UpdateMissingDependency, `update skips clocks of client ${client}`);
      continue;
    }
    if (end <= held) {
      // Already held: Yjs does not integrate it, but while parsing it still
      // creates the top-level type a struct names. Refuse names outside the schema.
      const parent: unknown = struct instanceof Y.Item ? struct.parent : null;
      if (typeof parent === 'string' && parent !== LEDGER_MAP && parent !== META_MAP) {
        return fail(ErrorCode.UpdateUnexpectedType, `update names top-level type "${parent.slice(0, 40)}"`);
      }
      continue;
    }
    const list = newItems.get(client) ?? [];
    const expected = list.at(-1)?.end ?? held;
    if (struct.id.clock > expected) {
      return fail(
        ErrorCode.UpdateMissingDependency,
        `update starts client ${client} at ${struct.id.clock}, replica holds ${expected}`,
      );
    }
    if (struct.id.clock < expected && struct.id.clock >= held) {
      return fail(ErrorCode.UpdateMalformed, `update repeats clocks of client ${client}`);
    }
    if (!(struct instanceof Y.Item)) {
      return fail(ErrorCode.UpdateUnexpectedType, 'update inserts a garbage-collected range the schema never produces');
    }
    if (struct.rightOrigin !== null) {
      return fail(ErrorCode.UpdateUnexpectedType, 'update inserts list content; the schema has only maps');
    }
    if (!(struct.content instanceof Y.ContentAny) && !(struct.content instanceof Y.ContentDeleted)) {
      return fail(
        ErrorCode.UpdateUnexpectedType,
        `update writes ${struct.content.constructor.name}; only JSON values are allowed`,
      );
    }
    const deleted = struct.content instanceof Y.ContentDeleted;
    if (!deleted && struct.length !== 1)
      return fail(ErrorCode.UpdateInvalidValue, 'a map value holds exactly one JSON value');
    if (list.length === 0) {
      const reserved = limits.clientOwner?.(client);
      if (reserved !== undefined && reserved !== own && !ownsKey(writer, reserved, version)) {
        return fail(ErrorCode.UpdateClientIdTaken, `client id ${client} is reserved to another writer`, { client });
      }
      if (held > 0) {
        const first = store.clients.get(client)?.[0];
        const slot = first === undefined ? null : slotOfHeld(first);
        if (slot === null || !owns(slot)) {
          return fail(ErrorCode.UpdateClientIdTaken, `client id ${client} belongs to another writer`, { client });
        }
      }
      newItems.set(client, list);
    }
    const clock = Math.max(struct.id.clock, held);
    const origin = clock > struct.id.clock ? Y.createID(client, clock - 1) : struct.origin;
    list.push({ item: struct, clock, end, origin, deleted, slot: null });
  }

  // 2. Each new item's slot, as Yjs derives it: from its origin (held, or new
  //    in this update, in any order) or else from the parent and key it names.
  const resolving = new Set<NewItem>();
  const resolve = (entry: NewItem): Slot | Rejection => {
    if (entry.slot !== null) return entry.slot;
    if (entry.origin === null) {
      const parent: unknown = entry.item.parent;
      if ((parent !== LEDGER_MAP && parent !== META_MAP) || entry.item.parentSub === null) {
        return fail(ErrorCode.UpdateUnexpectedType, 'update writes outside the ledger and meta maps');
      }
      entry.slot = { root: parent, key: entry.item.parentSub };
      return entry.slot;
    }
    const origin = entry.origin;
    if (origin.clock < Y.getState(store, origin.client)) {
      const slot = slotOfHeld(Y.getItem(store, origin));
      if (slot === null)
        return fail(ErrorCode.UpdateUnexpectedType, 'update continues content outside the ledger and meta maps');
      entry.slot = slot;
      return slot;
    }
    const from = findNew(origin.client, origin.clock);
    if (from === undefined || resolving.has(from)) {
      return fail(
        ErrorCode.UpdateMissingDependency,
        `update builds on ${origin.client}:${origin.clock}, which this replica lacks`,
      );
    }
    resolving.add(entry);
    const slot = resolve(from);
    resolving.delete(entry);
    if ('ok' in slot) return slot;
    entry.slot = slot;
    return slot;
  };
  // Every touched key (map and key), with the new values written to it.
  const touched = new Map<string, { slot: Slot; items: NewItem[] }>();
  const touch = (slot: Slot): NewItem[] => {
    const id = `${slot.root}\u0000${slot.key}`;
    let entry = touched.get(id);
    if (entry === undefined) {
      entry = { slot, items: [] };
      touched.set(id, entry);
    }
    return entry.items;
  };
  for (const list of newItems.values()) {
    for (const entry of list) {
      const slot = resolve(entry);
      if ('ok' in slot) return slot;
      if (!owns(slot)) {
        return fail(ErrorCode.UpdateForeignEntry, `update writes ${slot.root}.${slot.key}, which ${own} does not own`);
      }
      touch(slot).push(entry);
    }
  }

  // 3. Items this update newly deletes: held ones must be the writer's; new ones are marked.
  for (const [client, ranges] of decoded.ds.clients) {
    const held = Y.getState(store, client);
    const structs = store.clients.get(client) ?? [];
    for (const { clock, len } of ranges) {
      // An empty range is never written by Yjs, and one it cannot apply yet makes
      // Y.applyUpdate throw halfway through a transaction.
      if (!(len > 0)) return fail(ErrorCode.UpdateMalformed, `update deletes an empty range of client ${client}`);
      const end = clock + len;
      if (clock < held) {
        for (let i = Y.findIndexSS(structs, clock); i < structs.length; i++) {
          const struct = structs[i];
          if (struct === undefined || struct.id.clock >= Math.min(end, held)) break;
          if (struct.deleted) continue;
          const slot = slotOfHeld(struct);
          if (slot === null || !owns(slot)) {
            return fail(ErrorCode.UpdateForeignEntry, `update deletes an entry ${own} does not own`);
          }
          touch(slot);
        }
      }
      for (let c = Math.max(clock, held); c < end;) {
        const entry = findNew(client, c);
        if (entry === undefined) {
          return fail(ErrorCode.UpdateMissingDependency, `update deletes ${client}:${c}, which this replica lacks`);
        }
        entry.deleted = true;
        c = entry.end;
      }
    }
  }

  const clients = [...newItems.keys()];
  if (touched.size === 0) return ok({ changed: false, clients });

  // 4. Per touched key: the new values chain from the held one, and the final value is valid.
  for (const { slot, items } of touched.values()) {
    const held = heldItem(doc, slot);
    const chain = orderChain(held?.lastId ?? null, items);
    if (chain === null) {
      return fail(
        ErrorCode.UpdateConcurrentEntry,
        `update rewrites ${slot.root}.${slot.key} without building on its latest value`,
      );
    }
    const last = chain.at(-1);
    const value: unknown =
      last === undefined
        ? undefined // only deletions: the held value goes away
        : last.deleted || !(last.item.content instanceof Y.ContentAny)
          ? undefined
          : last.item.content.arr[0];
    const rejection =
      slot.root === META_MAP
        ? checkMeta(slot.key, value)
        : checkEntry(doc, writer, slot.key as WriterKey, value, limits);
    if (rejection !== null) return rejection;
  }
  return ok({ changed: true, clients });
}

/**
 * Orders a key's new values into one chain starting at the held value, or
 * returns null when they do not form one (a fork, or a value that builds on
 * something else).
 */
function orderChain(start: Y.ID | null, items: readonly NewItem[]): NewItem[] | null {
  const byOrigin = new Map<string, NewItem>();
  for (const entry of items) {
    const key = idKey(entry.origin);
    if (byOrigin.has(key)) return null;
    byOrigin.set(key, entry);
  }
  const chain: NewItem[] = [];
  let cursor = idKey(start);
  for (let entry = byOrigin.get(cursor); entry !== undefined; entry = byOrigin.get(cursor)) {
    chain.push(entry);
    cursor = idKey(entry.item.lastId);
  }
  return chain.length === items.length ? chain : null;
}

function idKey(id: Y.ID | null): string {
  return id === null ? '' : `${id.client}:${id.clock}`;
}

/**
 * Validates `update` and, when it is accepted, applies it to `doc` with
 * `origin`. A rejected update leaves `doc` untouched.
 */
export function applyValidatedUpdate(
  doc: Y.Doc,
  update: Uint8Array,
  writer: Writer,
  origin: unknown = null,
  limits: ValidationLimits = {},
): Result<UpdateAcceptance> {
  const verdict = validateUpdate(doc, update, writer, limits);
  if (verdict.ok && verdict.value.changed) Y.applyUpdate(doc, update, origin);
  return verdict;
}

/** The rightmost item the document holds for a map key (deleted or not): Y.Map's own writes chain from it. */
function heldItem(doc: Y.Doc, slot: Slot): Y.Item | undefined {
  return doc.share.get(slot.root)?._map.get(slot.key);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
