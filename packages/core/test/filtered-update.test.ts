import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { LEDGER_MAP, META_MAP, encodeShare, filterUpdate, shareStateVector } from '../src/index.js';

const EMPTY_STATE_VECTOR = new Uint8Array([0]);

/** A document whose next writes are made under `client`. */
function writeAs<T>(doc: Y.Doc, client: number, write: () => T): T {
  doc.clientID = client;
  return write();
}

function entry(n: number): Record<string, number> {
  return { p: 3 * n, n };
}

/** Three clients each rewrite their own ledger key a few times in one document. */
function threeWriters(gc = true): Y.Doc {
  const doc = new Y.Doc({ gc });
  const ledger = doc.getMap(LEDGER_MAP);
  for (let n = 0; n < 3; n++)
    for (const client of [1, 2, 3]) writeAs(doc, client, () => ledger.set(`k${client}`, entry(n)));
  return doc;
}

function apply(updates: readonly Uint8Array[], gc = true): Y.Doc {
  const doc = new Y.Doc({ gc });
  for (const update of updates) Y.applyUpdate(doc, update);
  return doc;
}

function clientsOfStructs(update: Uint8Array): number[] {
  return [...new Set(Y.decodeUpdate(update).structs.map((s) => s.id.client))];
}

function clientsOfDeletes(update: Uint8Array): number[] {
  return [...Y.decodeUpdate(update).ds.clients.keys()];
}

describe('filterUpdate', () => {
  it('keeps the structs and delete ranges of the chosen clients only, across a delete set spanning several clients', () => {
    const doc = threeWriters();
    const full = Y.encodeStateAsUpdate(doc);
    expect(clientsOfDeletes(full)).toEqual([3, 2, 1]);

    const only2 = filterUpdate(full, new Set([2]));
    expect(clientsOfStructs(only2)).toEqual([2]);
    expect(clientsOfDeletes(only2)).toEqual([2]);
    const store = apply([only2]);
    expect(store.store.pendingDs).toBeNull();
    expect(store.store.pendingStructs).toBeNull();
    expect(store.getMap(LEDGER_MAP).toJSON()).toEqual({ k2: entry(2) });

    // What the filter is for: the unfiltered delete set leaves deletes of the other clients pending for good.
    const unfiltered = apply([
      Y.diffUpdate(
        full,
        Y.encodeStateVector(
          new Map([
            [1, 100],
            [3, 100],
          ]),
        ),
      ),
    ]);
    expect(unfiltered.getMap(LEDGER_MAP).toJSON()).toEqual({ k2: entry(2) });
    expect(unfiltered.store.pendingDs).not.toBeNull();
  });

  it('keeps GC structs of the chosen clients, and drops those of the others', () => {
    const doc = new Y.Doc({ gc: true });
    const meta = doc.getMap(META_MAP);
    writeAs(doc, 7, () => {
      const nested = new Y.Map<unknown>();
      meta.set('nested', nested);
      nested.set('a', 1);
      nested.set('b', 2);
      // Replacing the map deletes it; with gc on, its children become GC structs.
      meta.set('nested', 'gone');
    });
    writeAs(doc, 8, () => doc.getMap(LEDGER_MAP).set('k8', entry(1)));
    const full = Y.encodeStateAsUpdate(doc);
    expect(Y.decodeUpdate(full).structs.some((s) => s instanceof Y.GC && s.id.client === 7)).toBe(true);

    const kept = filterUpdate(full, new Set([7]));
    expect(Y.decodeUpdate(kept).structs.filter((s) => s instanceof Y.GC)).toHaveLength(
      Y.decodeUpdate(full).structs.filter((s) => s instanceof Y.GC).length,
    );
    expect(clientsOfStructs(kept)).toEqual([7]);
    const store = apply([kept]);
    expect(store.store.pendingDs).toBeNull();
    expect(store.getMap(META_MAP).toJSON()).toEqual({ nested: 'gone' });
    expect(store.getMap(LEDGER_MAP).toJSON()).toEqual({});
    expect(encodeShare(doc, new Set([7]))).toEqual(Y.encodeStateAsUpdate(store));

    const dropped = filterUpdate(full, new Set([8]));
    expect(Y.decodeUpdate(dropped).structs.some((s) => s instanceof Y.GC)).toBe(false);
    expect(clientsOfDeletes(dropped)).toEqual([]);
  });

  it('filters an update that holds only deletes', () => {
    const doc = threeWriters();
    const before = apply([Y.encodeStateAsUpdate(doc)]);
    const updates: Uint8Array[] = [];
    doc.on('update', (update: Uint8Array) => updates.push(update));
    const ledger = doc.getMap(LEDGER_MAP);
    // A map delete makes no struct: the update is a delete set over two clients.
    doc.transact(() => {
      ledger.delete('k1');
      ledger.delete('k3');
    });
    const [deletes] = updates;
    if (deletes === undefined) throw new Error('no update');
    expect(Y.decodeUpdate(deletes).structs).toEqual([]);
    expect(clientsOfDeletes(deletes)).toEqual([3, 1]);

    expect(clientsOfDeletes(filterUpdate(deletes, new Set([1])))).toEqual([1]);
    // Nothing of client 2: an empty update, which Yjs writes as zero blocks and zero delete clients.
    expect(filterUpdate(deletes, new Set([2]))).toEqual(new Uint8Array([0, 0]));

    Y.applyUpdate(before, filterUpdate(deletes, new Set([1, 2])));
    expect(before.getMap(LEDGER_MAP).toJSON()).toEqual({ k2: entry(2), k3: entry(2) });
    expect(before.store.pendingDs).toBeNull();
  });

  it('keeps Skip structs where a merged update has a gap, so the receiver waits as it would for the whole update', () => {
    const doc = new Y.Doc();
    const updates: Uint8Array[] = [];
    doc.on('update', (update: Uint8Array) => updates.push(update));
    for (let n = 0; n < 3; n++) writeAs(doc, 5, () => doc.getMap(LEDGER_MAP).set('k5', entry(n)));
    writeAs(doc, 6, () => doc.getMap(LEDGER_MAP).set('k6', entry(9)));
    const [first, second, third, other] = updates;
    if (first === undefined || second === undefined || third === undefined || other === undefined) throw new Error();
    const gapped = Y.mergeUpdates([first, third, other]);
    expect(Y.decodeUpdate(gapped).structs.some((s) => s instanceof Y.Skip)).toBe(true);

    const filtered = filterUpdate(gapped, new Set([5]));
    expect(Y.decodeUpdate(filtered).structs.map((s) => s.constructor)).toEqual(
      Y.decodeUpdate(gapped)
        .structs.filter((s) => s.id.client === 5)
        .map((s) => s.constructor),
    );
    const store = apply([filtered]);
    expect(store.store.pendingStructs).not.toBeNull();
    Y.applyUpdate(store, filterUpdate(second, new Set([5])));
    expect(store.store.pendingStructs).toBeNull();
    expect(store.store.pendingDs).toBeNull();
    expect(store.getMap(LEDGER_MAP).toJSON()).toEqual({ k5: entry(2) });
  });

  it('keeping every client gives the bytes Yjs itself re-encodes, and the same document', () => {
    const doc = threeWriters();
    const full = Y.encodeStateAsUpdate(doc);
    const all = filterUpdate(full, new Set([1, 2, 3]));
    expect(all).toEqual(Y.diffUpdate(full, EMPTY_STATE_VECTOR));
    // Not the input's bytes: Yjs' update readers drop a value's map key when it has an origin, and so does this.
    expect(all).not.toEqual(full);
    expect(Y.encodeStateAsUpdate(apply([all]))).toEqual(Y.encodeStateAsUpdate(apply([full])));
  });
});

describe('encodeShare', () => {
  it('is Y.encodeStateAsUpdate restricted to the share, from any state vector', () => {
    const doc = threeWriters();
    const all = new Set([1, 2, 3]);
    expect(encodeShare(doc, all)).toEqual(Y.encodeStateAsUpdate(doc));
    const store = apply([encodeShare(doc, new Set([2, 3]))]);
    writeAs(doc, 3, () => doc.getMap(LEDGER_MAP).set('k3', entry(7)));
    writeAs(doc, 1, () => doc.getMap(LEDGER_MAP).set('k1', entry(7)));
    const sv = Y.encodeStateVector(store);
    expect(encodeShare(doc, all, sv)).toEqual(Y.encodeStateAsUpdate(doc, sv));
    const diff = encodeShare(doc, new Set([2, 3]), sv);
    expect(clientsOfStructs(diff)).toEqual([3]);
    Y.applyUpdate(store, diff);
    expect(store.getMap(LEDGER_MAP).toJSON()).toEqual({ k2: entry(2), k3: entry(7) });
    expect(Y.encodeStateVector(store)).toEqual(shareStateVector(doc, new Set([2, 3])));
  });

  it('needs every id a key was ever written under: a rewrite under a fresh id builds on the old id', () => {
    const doc = threeWriters();
    // Client 1's writer starts again under id 4 (a lost data directory, a re-keyed account).
    writeAs(doc, 4, () => doc.getMap(LEDGER_MAP).set('k1', entry(8)));
    const newIdOnly = apply([encodeShare(doc, new Set([4]))]);
    // It waits for client 1, which it will never get.
    expect([...(newIdOnly.store.pendingStructs?.missing.keys() ?? [])]).toEqual([1]);
    expect(newIdOnly.getMap(LEDGER_MAP).toJSON()).toEqual({});
    const both = apply([encodeShare(doc, new Set([1, 4]))]);
    expect(both.store.pendingStructs).toBeNull();
    expect(both.getMap(LEDGER_MAP).toJSON()).toEqual({ k1: entry(8) });
  });
});

describe('share size', () => {
  const ACCOUNTS = 500;
  const WRITES = 200;
  const META_ID = 1;
  const STORE_ID = 2;
  const accountId = (i: number) => 1_000 + i;

  /** One writer's history, written in a document of its own: 200 rewrites of its entry. */
  function history(client: number, key: string, map = LEDGER_MAP): Uint8Array {
    const doc = new Y.Doc({ gc: true });
    doc.clientID = client;
    const target = doc.getMap(map);
    for (let n = 0; n < WRITES; n++) {
      if (map === META_MAP) target.set(key, `title ${n}`);
      else target.set(key, { [key]: { p: 3 * n, n, t: { [`store:s${n % 7}`]: n }, reserved: n, settled: n } });
    }
    return Y.encodeStateAsUpdate(doc);
  }

  it('a store share of a 500-account document stays under 1 KB and does not depend on the other accounts', () => {
    const own = [
      history(META_ID, 'title', META_MAP),
      history(STORE_ID, 'store:s0'),
      history(accountId(0), 'online:s0'),
    ];
    const others = Array.from({ length: ACCOUNTS - 1 }, (_, i) => history(accountId(i + 1), `online:s${i + 1}`));
    const hub = apply([Y.mergeUpdates([...own, ...others])]);
    const alone = apply([Y.mergeUpdates(own)]);
    const share = new Set([STORE_ID, accountId(0), META_ID]);

    const bytes = encodeShare(hub, share);
    const full = Y.encodeStateAsUpdate(hub);
    console.info(
      `share of 3 clients: ${bytes.byteLength} B; whole document of ${hub.store.clients.size} clients: ${full.byteLength} B`,
    );
    expect(hub.store.clients.size).toBe(ACCOUNTS + 2);
    expect(bytes.byteLength).toBeLessThan(1024);
    expect(bytes).toEqual(encodeShare(alone, share));

    // A store that is up to date gets its share's delete set and nothing else, however much the others write.
    const store = apply([bytes]);
    expect(store.store.pendingDs).toBeNull();
    const upToDate = encodeShare(hub, share, Y.encodeStateVector(store));
    expect(Y.decodeUpdate(upToDate).structs).toEqual([]);
    expect(upToDate.byteLength).toBeLessThan(32);
  });
});
