import {
  ErrorCode,
  HUB_WRITER,
  onlineAccount,
  storeAccount,
  storeWriter,
  type ErrorCode as Code,
} from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { MAX_UPDATE_BYTES, applyValidatedUpdate, initMeta, ledgerOf, validateUpdate } from '../src/index.js';
import { capture, copyOf, forge, forgeryKinds } from '../src/testing/index.js';
import { expectedCode, expectRejected as rejected } from './support/forgery-verdicts.js';
import { describeValidationProperties } from './support/validation-properties.js';
import { makeHub, makeStores, storeIdOf, syncWithHub } from './support/replica.js';

const a = storeIdOf(0);
const b = storeIdOf(1);
const writerA = storeWriter(a);

/** A small synced chain: two stores with stock, rights moved both ways, a reservation. */
function world(extraSales = 0) {
  const [storeA, storeB] = makeStores(2);
  if (storeA === undefined || storeB === undefined) throw new Error('no stores');
  const hub = makeHub();
  initMeta(hub.doc, 'SKU-1' as never);
  storeA.apply({ type: 'receive', account: storeAccount(a), quantity: 20 });
  storeA.apply({ type: 'transferRights', from: storeAccount(a), to: onlineAccount(a), quantity: 5 });
  storeB.apply({ type: 'receive', account: storeAccount(b), quantity: 7 });
  for (let i = 0; i < extraSales; i++) storeA.apply({ type: 'sell', account: storeAccount(a), quantity: 1 });
  syncWithHub(storeA, hub);
  syncWithHub(storeB, hub);
  hub.apply({ type: 'reserve', account: onlineAccount(a), quantity: 2 });
  hub.apply({ type: 'transferRights', from: onlineAccount(a), to: storeAccount(a), quantity: 1 });
  syncWithHub(storeA, hub);
  syncWithHub(storeB, hub);
  return { storeA, storeB, hub };
}

const expectRejected = (doc: Y.Doc, update: Uint8Array, codes: Code | readonly Code[]): void =>
  rejected(doc, update, writerA, codes);

describe('validateUpdate: every forgery is rejected and changes nothing', () => {
  for (const kind of forgeryKinds) {
    it(kind, () => {
      const { hub } = world();
      expectRejected(hub.doc, forge(hub.doc, kind, 3), expectedCode[kind]);
    });
  }

  it('refuses an update above the size limit before decoding it', () => {
    const { hub } = world();
    expectRejected(hub.doc, new Uint8Array(MAX_UPDATE_BYTES + 1), ErrorCode.UpdateTooLarge);
  });

  it('a store cannot write through the hub: the hub key and online accounts stay the hub’s', () => {
    const { hub } = world();
    const viaHubKey = capture(copyOf(hub.doc), (d) => ledgerOf(d).set('hub', ledgerOf(hub.doc).get('hub')));
    expectRejected(hub.doc, viaHubKey, ErrorCode.UpdateForeignEntry);
  });

  it('refuses empty delete ranges and empty structs, which make Y.applyUpdate throw halfway (found by the fuzz property)', () => {
    const { hub } = world();
    const key = [...new TextEncoder().encode('store:store-0')];
    const ledger = [...new TextEncoder().encode('ledger')];
    // No structs; a delete set with one range of length 0 at an unknown client (1234 = 0xd2 0x09).
    expectRejected(hub.doc, Uint8Array.from([0, 1, 0xd2, 0x09, 1, 5, 0]), ErrorCode.UpdateMalformed);
    // One deleted-content item of length 0 in the attacker's own ledger entry.
    const emptyItem = [1, 1, 0xd2, 0x09, 0, 33, 1, ledger.length, ...ledger, key.length, ...key, 0, 0];
    expectRejected(hub.doc, Uint8Array.from(emptyItem), ErrorCode.UpdateMalformed);
    // The same item with length 1 decodes fine and fails only on the chain rule: the bytes above are right.
    const oneItem = [1, 1, 0xd2, 0x09, 0, 33, 1, ledger.length, ...ledger, key.length, ...key, 1, 0];
    expect(validateUpdate(hub.doc, Uint8Array.from(oneItem), writerA)).toMatchObject({
      ok: false,
      error: { code: ErrorCode.UpdateConcurrentEntry },
    });
  });

  it('refuses an already-held struct that names another top-level type (Yjs would create it while parsing)', () => {
    const { storeA, hub } = world();
    const held = storeA.sent[0];
    if (held === undefined) throw new Error('no update');
    const decoded = Y.decodeUpdate(held);
    expect(decoded.structs.length).toBeGreaterThan(0);
    // Re-encode the first held struct with parent "evil" instead of "ledger".
    const first = decoded.structs[0] as Y.Item;
    const client = first.id.client;
    const evil = [...new TextEncoder().encode('evil')];
    const key = [...new TextEncoder().encode(first.parentSub ?? '')];
    const varuint = (n: number): number[] => {
      const out: number[] = [];
      while (n > 127) {
        out.push((n & 127) | 128);
        n = Math.floor(n / 128);
      }
      out.push(n);
      return out;
    };
    const forged = [1, 1, ...varuint(client), first.id.clock, 33, 1, evil.length, ...evil, key.length, ...key, 1, 0];
    expectRejected(hub.doc, Uint8Array.from(forged), ErrorCode.UpdateUnexpectedType);
  });

  it('garbage that decodes as an empty update is still refused', () => {
    const { hub } = world();
    expectRejected(hub.doc, Uint8Array.from([0, 0, 7, 7, 7]), ErrorCode.UpdateMalformed);
  });
});

describe('validateUpdate: strict decoding', () => {
  it('refuses an honest update followed by any trailing bytes, which Yjs would apply as the prefix', () => {
    const { storeA, hub } = world();
    storeA.apply({ type: 'sell', account: storeAccount(a), quantity: 1 });
    const honest = storeA.sent.at(-1) as Uint8Array;
    for (const tail of [[0], [0, 0], [1, 2, 3], [255]]) {
      expectRejected(hub.doc, Uint8Array.from([...honest, ...tail]), ErrorCode.UpdateMalformed);
    }
    expect(validateUpdate(hub.doc, honest, writerA)).toMatchObject({ ok: true, value: { changed: true } });
  });

  it('refuses a "__proto__" key anywhere in a value with UPDATE_INVALID_VALUE (Yjs would make it the prototype)', () => {
    const { hub } = world();
    const own = storeAccount(a);
    const state = JSON.stringify({ p: 30, n: 0, t: {}, reserved: 0, settled: 0 });
    for (const json of [
      `{"${own}": ${state}, "__proto__": ${state}}`,
      `{"${own}": {"p": 30, "n": 0, "t": {"__proto__": 1}, "reserved": 0, "settled": 0}}`,
      `{"${own}": {"p": 30, "n": 0, "t": {}, "reserved": 0, "settled": 0, "__proto__": null}}`,
    ]) {
      const value: unknown = JSON.parse(json);
      const update = capture(copyOf(hub.doc), (d) => ledgerOf(d).set('store:store-0', value));
      // Decoded as Yjs does, the key is gone: the schema alone could not refuse it.
      const decoded = (Y.decodeUpdate(update).structs[0] as Y.Item).content.getContent()[0] as object;
      expect(JSON.stringify(decoded)).not.toContain('__proto__');
      expectRejected(hub.doc, update, ErrorCode.UpdateInvalidValue);
    }
  });
});

describe('validateUpdate: client ids reserved across documents', () => {
  it('refuses structs under a client id reserved to another writer, in a document that id never wrote', () => {
    const { hub } = world();
    const owners = new Map<number, string>([[4242, 'hub']]);
    const clientOwner = (client: number) => owners.get(client) as never;
    const entry = ledgerOf(hub.doc).get('store:store-0') as Record<string, { p: number }>;
    const state = entry[storeAccount(a)] as { p: number };
    const asHub = capture(copyOf(hub.doc, 4242), (d) =>
      ledgerOf(d).set('store:store-0', { ...entry, [storeAccount(a)]: { ...state, p: state.p + 1 } }),
    );
    expect(validateUpdate(hub.doc, asHub, writerA, { clientOwner })).toMatchObject({
      ok: false,
      error: { code: ErrorCode.UpdateClientIdTaken, details: { client: 4242 } },
    });
    // Without the registry only the document is asked, and it has never seen 4242.
    expect(validateUpdate(hub.doc, asHub, writerA)).toMatchObject({ ok: true, value: { clients: [4242] } });
    owners.set(4242, 'store:store-0');
    expect(validateUpdate(hub.doc, asHub, writerA, { clientOwner })).toMatchObject({
      ok: true,
      value: { changed: true, clients: [4242] },
    });
  });

  it('reports the client ids an update adds structs under, and none for an update already held', () => {
    const { storeA, hub } = world();
    storeA.apply({ type: 'sell', account: storeAccount(a), quantity: 1 });
    storeA.restart();
    storeA.apply({ type: 'sell', account: storeAccount(a), quantity: 1 });
    const step2 = Y.encodeStateAsUpdate(storeA.doc, Y.encodeStateVector(hub.doc));
    const verdict = applyValidatedUpdate(hub.doc, step2, writerA);
    expect(verdict.ok && [...verdict.value.clients].sort()).toEqual(
      [...new Set(Y.decodeUpdate(step2).structs.map((s) => s.id.client))].sort(),
    );
    expect(validateUpdate(hub.doc, step2, writerA)).toEqual({ ok: true, value: { changed: false, clients: [] } });
  });
});

describe('validateUpdate: honest updates are accepted', () => {
  it('incremental updates from operations, one by one', () => {
    const { storeA, hub } = world();
    const from = storeA.sent.length;
    storeA.apply({ type: 'sell', account: storeAccount(a), quantity: 3 });
    storeA.apply({ type: 'transferRights', from: storeAccount(a), to: onlineAccount(a), quantity: 2 });
    storeA.apply({ type: 'count', account: storeAccount(a), counted: 30 });
    for (const update of storeA.sent.slice(from)) {
      expect(validateUpdate(hub.doc, update, writerA)).toMatchObject({ ok: true, value: { changed: true } });
      Y.applyUpdate(hub.doc, update);
    }
    expect(ledgerOf(hub.doc).get('store:store-0')).toEqual(ledgerOf(storeA.doc).get('store:store-0'));
  });

  it('a sync step 2 carrying the whole delete set (others’ deletions included) and updates merged across restarts', () => {
    const { storeA, hub } = world();
    storeA.apply({ type: 'sell', account: storeAccount(a), quantity: 1 });
    storeA.restart();
    storeA.apply({ type: 'sell', account: storeAccount(a), quantity: 1 });
    storeA.restart();
    storeA.apply({ type: 'return', account: storeAccount(a), quantity: 1 });
    const step2 = Y.encodeStateAsUpdate(storeA.doc, Y.encodeStateVector(hub.doc));
    expect(applyValidatedUpdate(hub.doc, step2, writerA)).toMatchObject({ ok: true, value: { changed: true } });
    expect(ledgerOf(hub.doc).toJSON()).toEqual(ledgerOf(storeA.doc).toJSON());
  });

  it('an update the hub already holds is accepted as a no-op', () => {
    const { storeA, hub } = world();
    for (const update of storeA.sent)
      expect(validateUpdate(hub.doc, update, writerA)).toMatchObject({ ok: true, value: { changed: false } });
    expect(validateUpdate(hub.doc, Y.encodeStateAsUpdate(hub.doc), writerA)).toEqual({
      ok: true,
      value: { changed: false, clients: [] },
    });
  });

  it('a first write by a brand-new store, and the hub writing meta', () => {
    const { hub } = world();
    const [, , storeC] = makeStores(3);
    if (storeC === undefined) throw new Error('no store');
    storeC.apply({ type: 'receive', account: storeAccount(storeIdOf(2)), quantity: 1 });
    expect(applyValidatedUpdate(hub.doc, storeC.sent[0] as Uint8Array, storeC.writer).ok).toBe(true);
    const otherHub = copyOf(hub.doc);
    const meta = capture(otherHub, (d) => d.getMap('meta').set('title', 'Blue mug'));
    expect(validateUpdate(hub.doc, meta, HUB_WRITER)).toMatchObject({ ok: true, value: { changed: true } });
    expect(validateUpdate(hub.doc, meta, writerA)).toMatchObject({
      ok: false,
      error: { code: ErrorCode.UpdateForeignEntry },
    });
  });
});

describeValidationProperties('validateUpdate properties (fast-check)', world, {
  forgeries: 1500,
  mutations: 3000,
  honest: 500,
});
