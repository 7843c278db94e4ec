import {
  ErrorCode,
  HUB_WRITER,
  accountOwner,
  onlineAccount,
  storeAccount,
  storeWriter,
  type ErrorCode as Code,
  type WriterKey,
} from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import type * as Y from 'yjs';
import { applyOperation, applyValidatedUpdate, ledgerOf, schemaVersion, validateUpdate } from '../src/index.js';
import { capture, copyOf } from '../src/testing/index.js';
import { expectRejected as rejected } from './support/forgery-verdicts.js';
import { describeValidationProperties } from './support/validation-properties.js';
import { makeHub, makeStores, storeIdOf, syncWithHub } from './support/replica.js';

const a = storeIdOf(0);
const b = storeIdOf(1);
const writerA = storeWriter(a);
const posA = storeAccount(a);
const onlineA = onlineAccount(a);
const keyA = accountOwner(onlineA, 2);
const keyB = accountOwner(onlineAccount(b), 2);

/**
 * The chain of validate-update.test.ts, its hub migrated to version 2 after its
 * first writes (so the document keeps a `hub` entry), then writing more.
 */
function world(extraSales = 0) {
  const [storeA, storeB] = makeStores(2);
  if (storeA === undefined || storeB === undefined) throw new Error('no stores');
  const hub = makeHub(1);
  storeA.apply({ type: 'receive', account: posA, quantity: 20 });
  storeA.apply({ type: 'transferRights', from: posA, to: onlineA, quantity: 5 });
  storeB.apply({ type: 'receive', account: storeAccount(b), quantity: 7 });
  for (let i = 0; i < extraSales; i++) storeA.apply({ type: 'sell', account: posA, quantity: 1 });
  syncWithHub(storeA, hub);
  syncWithHub(storeB, hub);
  hub.apply({ type: 'reserve', account: onlineA, quantity: 2 });
  hub.migrate();
  const clients = hub.clients;
  if (clients === undefined) throw new Error('no writer ids');
  hub.apply({ type: 'transferRights', from: onlineA, to: posA, quantity: 1 });
  hub.apply({ type: 'receive', account: onlineAccount(b), quantity: 3 });
  syncWithHub(storeA, hub);
  syncWithHub(storeB, hub);
  return { storeA, storeB, hub, clients };
}

const expectRejected = (
  doc: Y.Doc,
  update: Uint8Array,
  codes: Code | readonly Code[],
  limits: Parameters<typeof validateUpdate>[3] = {},
): void => rejected(doc, update, writerA, codes, limits);

/** The value a key holds, for a forger to build on. */
function held(doc: Y.Doc, key: string): Record<string, { p: number }> {
  return ledgerOf(doc).get(key) as Record<string, { p: number }>;
}

describe('validateUpdate, schema version 2: a store may write only store:<itself>', () => {
  it('refuses writes and deletions of online:*, hub and meta, its own location’s online entry included', () => {
    const { hub } = world();
    expect(schemaVersion(hub.doc)).toBe(2);
    expect(ledgerOf(hub.doc).has('hub')).toBe(true);
    const online = held(hub.doc, keyA);
    const raised = { [onlineA]: { ...online[onlineA], p: (online[onlineA]?.p ?? 0) + 5 } };
    for (const change of [
      (d: Y.Doc) => ledgerOf(d).set(keyA, raised),
      (d: Y.Doc) => ledgerOf(d).set(keyB, {}),
      (d: Y.Doc) => ledgerOf(d).delete(keyA),
      (d: Y.Doc) => ledgerOf(d).set('hub', raised),
      (d: Y.Doc) => ledgerOf(d).set('online:dc', {}),
      (d: Y.Doc) => d.getMap('meta').set('schema', 1),
      (d: Y.Doc) => d.getMap('meta').delete('schema'),
    ]) {
      expectRejected(hub.doc, capture(copyOf(hub.doc), change), ErrorCode.UpdateForeignEntry);
    }
  });

  it('refuses its own entry written under an id of online:* or meta, held in the document or only reserved', () => {
    const { hub, clients } = world();
    const own = held(hub.doc, 'store:store-0');
    const entry = { [posA]: { ...own[posA], p: (own[posA]?.p ?? 0) + 1 } };
    const under = (client: number) => capture(copyOf(hub.doc, client), (d) => ledgerOf(d).set('store:store-0', entry));
    for (const client of [clients.idFor(keyA), clients.idFor(keyB), clients.idFor('meta')]) {
      expectRejected(hub.doc, under(client), ErrorCode.UpdateClientIdTaken);
    }
    // An id the document has not seen: only the hub's registry knows it is online:dc's (or the neutral one).
    const registry = (client: number): WriterKey | undefined => clients.ownerOf(client);
    for (const client of [clients.idFor('online:dc'), clients.neutral]) {
      expect(validateUpdate(hub.doc, under(client), writerA).ok).toBe(true);
      expectRejected(hub.doc, under(client), ErrorCode.UpdateClientIdTaken, { clientOwner: registry });
    }
  });

  it('spends the rights the online entry granted, and no more', () => {
    const { storeA, hub } = world();
    const rights = 20 - 5 + 1;
    storeA.apply({ type: 'sell', account: posA, quantity: rights });
    expect(applyValidatedUpdate(hub.doc, storeA.sent.at(-1) as Uint8Array, writerA).ok).toBe(true);
    const own = held(hub.doc, 'store:store-0');
    const overdrawn = capture(copyOf(hub.doc), (d) =>
      ledgerOf(d).set('store:store-0', { [posA]: { ...own[posA], n: rights + 1 } }),
    );
    expectRejected(hub.doc, overdrawn, ErrorCode.UpdateOverdrawn);
  });
});

describe('validateUpdate, schema version 2: the hub’s writers', () => {
  it('accepts an online entry written by the hub, refuses one holding another account or the frozen hub entry', () => {
    const { hub, clients } = world();
    const copy = copyOf(hub.doc, clients.neutral);
    const updates: Uint8Array[] = [];
    copy.on('update', (update: Uint8Array) => updates.push(update));
    applyOperation(copy, HUB_WRITER, { type: 'receive', account: onlineA, quantity: 1 }, null, clients);
    expect(validateUpdate(hub.doc, updates[0] as Uint8Array, HUB_WRITER)).toMatchObject({
      ok: true,
      value: { changed: true, clients: [clients.idFor(keyA)] },
    });
    const state = { p: 1, n: 0, t: {}, reserved: 0, settled: 0 };
    const wrongAccount = capture(copyOf(hub.doc), (d) => ledgerOf(d).set(keyB, { [onlineA]: state }));
    expect(validateUpdate(hub.doc, wrongAccount, HUB_WRITER)).toMatchObject({
      ok: false,
      error: { code: ErrorCode.UpdateForeignEntry },
    });
    const intoHub = capture(copyOf(hub.doc), (d) => ledgerOf(d).set('hub', { [onlineA]: state }));
    expect(validateUpdate(hub.doc, intoHub, HUB_WRITER)).toMatchObject({
      ok: false,
      error: { code: ErrorCode.UpdateForeignEntry },
    });
  });
});

describeValidationProperties('validateUpdate, schema version 2 (fast-check)', world, {
  forgeries: 500,
  mutations: 1000,
  honest: 300,
  seed: 20_011,
});
