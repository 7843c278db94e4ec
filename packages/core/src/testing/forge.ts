import { StoreIdSchema, storeAccount, writerKey, type Writer } from '@shelfsync/protocol';
import * as Y from 'yjs';
import { computeStock, ledgerOf, parseLedgerEntry, readEntry } from '../ledger.js';
import { LEDGER_MAP, META_MAP, type LedgerEntry } from '../schema.js';
import { assertSafe } from './invariants.js';

/** A copy of a document that a forger can write to freely, optionally under a chosen Yjs client id. */
export function copyOf(doc: Y.Doc, clientID?: number): Y.Doc {
  const copy = new Y.Doc();
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
  if (clientID !== undefined) copy.clientID = clientID;
  return copy;
}

/** Runs `change` in one transaction and returns the update it produced. */
export function capture(doc: Y.Doc, change: (doc: Y.Doc) => void): Uint8Array {
  const updates: Uint8Array[] = [];
  const collect = (update: Uint8Array): void => {
    updates.push(update);
  };
  doc.on('update', collect);
  doc.transact(() => change(doc));
  doc.off('update', collect);
  return Y.mergeUpdates(updates);
}

/** The Yjs client id that last wrote a ledger key in `doc`. */
export function clientOf(doc: Y.Doc, key: string): number {
  const item = doc.getMap(LEDGER_MAP)._map.get(key);
  if (item === undefined) throw new Error(`no entry ${key}`);
  return item.id.client;
}

/** Every forgery the validator must refuse, as an attacking store would send it. */
export const forgeryKinds = [
  'foreignKey',
  'hubKey',
  'deleteForeign',
  'deleteHub',
  'decreaseTotal',
  'dropAccount',
  'overdraw',
  'foreignAccount',
  'transferElsewhere',
  'badValue',
  'newRoot',
  'text',
  'nested',
  'listInLedger',
  'meta',
  'clientHijack',
  'fork',
  'missingDependency',
  'truncated',
  'garbage',
  'gcStruct',
  'trailingBytes',
  'protoKey',
] as const;
export type ForgeryKind = (typeof forgeryKinds)[number];

/** Who forges, and whose entry the forgery goes after. */
export interface ForgeryParties {
  readonly attacker: string;
  readonly victim: string;
}

const DEFAULT_PARTIES: ForgeryParties = { attacker: 'store-0', victim: 'store-1' };

/**
 * Builds one forged update against `hub`, as the attacker store would send it;
 * `hub` must hold entries for both the attacker and the victim.
 */
export function forge(
  hub: Y.Doc,
  kind: ForgeryKind,
  seed: number,
  parties: ForgeryParties = DEFAULT_PARTIES,
): Uint8Array {
  const attackerKey = `store:${parties.attacker}` as const;
  const victimKey = `store:${parties.victim}` as const;
  const attacker = storeAccount(StoreIdSchema.parse(parties.attacker));
  const victimId = StoreIdSchema.parse(parties.victim);
  const own = readEntry(hub, attackerKey);
  const state = own[attacker] ?? { p: 0, n: 0, t: {}, reserved: 0, settled: 0 };
  const setOwn = (entry: unknown) => capture(copyOf(hub), (d) => ledgerOf(d).set(attackerKey, entry));
  switch (kind) {
    case 'foreignKey': {
      const victim = readEntry(hub, victimKey);
      const account = storeAccount(victimId);
      const v = victim[account] ?? { p: 0, n: 0, t: {}, reserved: 0, settled: 0 };
      return capture(copyOf(hub), (d) => ledgerOf(d).set(victimKey, { [account]: { ...v, p: v.p + 1 + seed } }));
    }
    case 'hubKey':
      return capture(copyOf(hub), (d) => ledgerOf(d).set('hub', {}));
    case 'deleteForeign':
      return capture(copyOf(hub), (d) => ledgerOf(d).delete(victimKey));
    case 'deleteHub':
      return capture(copyOf(hub), (d) => ledgerOf(d).delete('hub'));
    case 'decreaseTotal':
      return setOwn({ [attacker]: { ...state, p: state.p - 1 - (seed % Math.max(1, state.p)) } });
    case 'dropAccount':
      return setOwn({});
    case 'overdraw': {
      const rights = computeStock(hub).accounts[attacker]?.rights ?? 0;
      return setOwn({ [attacker]: { ...state, n: state.n + rights + 1 + (seed % 5) } });
    }
    case 'foreignAccount':
      return setOwn({ ...own, [`online:${parties.attacker}`]: { p: 1 + seed, n: 0, t: {}, reserved: 0, settled: 0 } });
    case 'transferElsewhere':
      return setOwn({ [attacker]: { ...state, p: state.p + 1, t: { ...state.t, [`online:${parties.victim}`]: 1 } } });
    case 'badValue': {
      const values: unknown[] = [
        { [attacker]: { ...state, p: String(state.p + 1) } },
        { [attacker]: { ...state, p: state.p + 0.5 } },
        { [attacker]: { ...state, extra: 1 } },
        { [attacker]: { p: state.p + 1 } },
        [1, 2, 3],
        'store',
        null,
      ];
      return setOwn(values[seed % values.length]);
    }
    case 'newRoot':
      return capture(copyOf(hub), (d) => d.getMap(`evil-${seed % 3}`).set('x', 1));
    case 'text':
      return capture(copyOf(hub), (d) => d.getText('notes').insert(0, 'hello'));
    case 'nested':
      return capture(copyOf(hub), (d) => ledgerOf(d).set(attackerKey, new Y.Map()));
    case 'listInLedger':
      return capture(new Y.Doc(), (d) => d.getArray(LEDGER_MAP).insert(0, [1]));
    case 'meta':
      return capture(copyOf(hub), (d) => d.getMap(META_MAP).set('title', `forged ${seed}`));
    case 'clientHijack': {
      const victimClient = clientOf(hub, victimKey);
      return setOwnAs(hub, victimClient, attackerKey, { [attacker]: { ...state, p: state.p + 1 } });
    }
    case 'fork':
      // A replica that lost its state writes its entry from scratch.
      return capture(new Y.Doc(), (d) => ledgerOf(d).set(attackerKey, { [attacker]: { ...state, p: state.p + 1 } }));
    case 'missingDependency': {
      const copy = copyOf(hub);
      capture(copy, (d) => ledgerOf(d).set(attackerKey, { [attacker]: { ...state, p: state.p + 1 } }));
      return capture(copy, (d) => ledgerOf(d).set(attackerKey, { [attacker]: { ...state, p: state.p + 2 } }));
    }
    case 'truncated': {
      const honest = setOwn({ [attacker]: { ...state, p: state.p + 1 } });
      return honest.slice(0, seed % honest.byteLength);
    }
    case 'garbage': {
      let x = seed * 2654435761 + 1;
      const bytes = new Uint8Array(3 + (seed % 60));
      for (let i = 0; i < bytes.length; i++) {
        x = (x * 1103515245 + 12345) >>> 0;
        bytes[i] = x >>> 24;
      }
      return bytes;
    }
    case 'gcStruct':
      // One client, one struct: a GC range of length 5 at a fresh client id, then an empty delete set.
      return Uint8Array.from([1, 1, 0xd2, 0x09, 0, 0, 5, 0]);
    case 'trailingBytes': {
      // An honest update with bytes after its end: Yjs would apply the valid prefix.
      const honest = setOwn({ [attacker]: { ...state, p: state.p + 1 } });
      const tail = Uint8Array.from({ length: 1 + (seed % 8) }, (_, i) => (seed * 31 + i * 7) & 0xff);
      const bytes = new Uint8Array(honest.byteLength + tail.byteLength);
      bytes.set(honest);
      bytes.set(tail, honest.byteLength);
      return bytes;
    }
    case 'protoKey': {
      // JSON.parse makes `__proto__` an own key, which Yjs encodes as any other.
      const fresh = JSON.stringify({ ...state, p: state.p + 1 });
      const values = [
        `{"${attacker}": ${fresh}, "__proto__": ${fresh}}`,
        `{"${attacker}": ${fresh.slice(0, -1)}, "__proto__": {"o": 1000000}}}`,
        `{"${attacker}": ${fresh.slice(0, -1)}, "__proto__": 5}}`,
        `{"__proto__": {"${attacker}": ${fresh}}}`,
        `{"${attacker}": ${JSON.stringify({ ...state, p: state.p + 1, t: {} }).replace('"t":{}', '"t":{"__proto__":1}')}}`,
      ];
      return setOwn(JSON.parse(values[seed % values.length] ?? '{}'));
    }
  }
}

function setOwnAs(hub: Y.Doc, clientID: number, key: string, entry: LedgerEntry): Uint8Array {
  return capture(copyOf(hub, clientID), (d) => ledgerOf(d).set(key, entry));
}

/**
 * The oracle for an accepted update: applied to a copy of `before`, it may
 * change only the writer's own entry, lower no total, leave every account
 * non-negative and add nothing outside the schema.
 */
export function assertAcceptedEffect(before: Y.Doc, update: Uint8Array, writer: Writer): void {
  const key = writerKey(writer);
  const after = copyOf(before);
  Y.applyUpdate(after, update);
  if (after.store.pendingStructs !== null || after.store.pendingDs !== null)
    throw new Error('accepted update left pending work');
  for (const root of after.share.keys()) {
    if (root !== LEDGER_MAP && root !== META_MAP) throw new Error(`accepted update added root ${root}`);
  }
  const was = ledgerOf(before).toJSON();
  const now = ledgerOf(after).toJSON();
  for (const k of new Set([...Object.keys(was), ...Object.keys(now)])) {
    if (k !== key && JSON.stringify(was[k]) !== JSON.stringify(now[k])) throw new Error(`accepted update changed ${k}`);
  }
  if (
    writer.kind !== 'hub' &&
    JSON.stringify(before.getMap(META_MAP).toJSON()) !== JSON.stringify(after.getMap(META_MAP).toJSON())
  ) {
    throw new Error('accepted update changed meta');
  }
  const prior = parseLedgerEntry(was[key]) ?? {};
  const next = parseLedgerEntry(now[key]);
  if (now[key] !== undefined && next === null) throw new Error('accepted update wrote an invalid entry');
  for (const [account, old] of Object.entries(prior)) {
    const cur = next?.[account as keyof typeof next];
    if (
      cur === undefined ||
      cur.p < old.p ||
      cur.n < old.n ||
      cur.reserved < old.reserved ||
      cur.settled < old.settled
    ) {
      throw new Error(`accepted update lowered ${account}`);
    }
  }
  assertSafe(computeStock(after));
}
