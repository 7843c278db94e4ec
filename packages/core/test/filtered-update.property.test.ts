import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { LEDGER_MAP, META_MAP, encodeShare, filterUpdate, shareStateVector } from '../src/index.js';
import { runs } from './support/runs.js';
import { REMOTE, ShareWorld, shareScenarioArb, type ShareScenario } from './support/share-world.js';

/**
 * Interest-scoped replication: random histories where the hub writes each
 * online account and `meta` under ids of their own and stores write their own
 * entries, store updates reach the hub in any order (duplicated, with gaps) or
 * as step 2s, stores receive only their share, writers move to fresh ids, gc is
 * on or off per replica. Observers follow random sets of writers.
 */

const EMPTY_STATE_VECTOR = new Uint8Array([0]);

/** What a document holds, restricted to some writers when `follows` is given. */
interface View {
  readonly stateVector: [number, number][];
  readonly deleted: [number, number, number][];
  readonly ledger: Record<string, unknown>;
  readonly meta: Record<string, unknown>;
}

function viewOf(doc: Y.Doc, world: ShareWorld, follows?: readonly number[]): View {
  const clients = follows === undefined ? null : world.clientsOf(follows);
  const keep = (client: number) => clients === null || clients.has(client);
  const keepKey = (key: string) => follows === undefined || follows.includes(world.ownerOf(key));
  const stateVector = [...Y.decodeStateVector(Y.encodeStateVector(doc))].filter(([c]) => keep(c));
  const deleted = [...Y.createDeleteSetFromStructStore(doc.store).clients]
    .filter(([c]) => keep(c))
    .flatMap(([c, ranges]) => ranges.map((r): [number, number, number] => [c, r.clock, r.len]));
  const ledger = Object.entries(doc.getMap(LEDGER_MAP).toJSON()).filter(([key]) => keepKey(key));
  return {
    stateVector: stateVector.sort((a, b) => a[0] - b[0]),
    deleted: deleted.sort((a, b) => a[0] - b[0] || a[1] - b[1]),
    ledger: Object.fromEntries(ledger),
    meta: keepKey(META_MAP) ? doc.getMap(META_MAP).toJSON() : {},
  };
}

/** Byte equality; vitest's deep equality walks typed arrays element by element, too slowly for thousands of them. */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  if (actual.byteLength !== expected.byteLength || !actual.every((byte, i) => byte === expected[i])) {
    expect(actual).toEqual(expected);
  }
}

function hasPending(doc: Y.Doc): boolean {
  return doc.store.pendingStructs !== null || doc.store.pendingDs !== null;
}

function expectNothingPending(doc: Y.Doc): void {
  expect(doc.store.pendingStructs).toBeNull();
  expect(doc.store.pendingDs).toBeNull();
}

function docFrom(updates: readonly Uint8Array[], gc: boolean): Y.Doc {
  const doc = new Y.Doc({ gc });
  for (const update of updates) Y.applyUpdate(doc, update, REMOTE);
  return doc;
}

/** Runs the scenario; `atCheckpoint` sees the world at each checkpoint step and once more after the final heal. */
function play(
  scenario: ShareScenario,
  atCheckpoint: (world: ShareWorld) => void,
  afterShare?: (world: ShareWorld, store: number) => void,
): ShareWorld {
  const world = new ShareWorld(scenario);
  for (const step of scenario.steps) {
    world.apply(step);
    if (step.kind === 'checkpoint') atCheckpoint(world);
    if (step.kind === 'share') afterShare?.(world, step.store % world.stores.length);
  }
  world.heal();
  expectNothingPending(world.hub);
  atCheckpoint(world);
  return world;
}

describe('filtered updates and shares (fast-check)', () => {
  it('a share applied to an empty document leaves nothing pending and holds exactly the entries of the writers it follows', () => {
    fc.assert(
      fc.property(shareScenarioArb, fc.boolean(), (scenario, gc) => {
        play(scenario, (world) => {
          if (hasPending(world.hub)) return;
          const follows = world.writersOf(scenario.observed);
          const clients = world.clientsOf(follows);
          const doc = docFrom([encodeShare(world.hub, clients)], gc);
          expectNothingPending(doc);
          expect(viewOf(doc, world)).toEqual(viewOf(world.hub, world, follows));
          expect(Y.decodeStateVector(Y.encodeStateVector(doc))).toEqual(
            Y.decodeStateVector(shareStateVector(world.hub, clients)),
          );
        });
      }),
      { numRuns: runs(300) },
    );
  });

  it('stores that write their own entries and receive only their share end equal to the hub restricted to it', () => {
    fc.assert(
      fc.property(shareScenarioArb, (scenario) => {
        const world = play(
          scenario,
          () => {},
          (w, index) => {
            // A share never leaves a delete of a struct the store lacks, unless the hub itself waits for one.
            const store = w.stores[index];
            if (store !== undefined && !hasPending(w.hub)) expectNothingPending(store.doc);
          },
        );
        for (const store of world.stores) {
          expectNothingPending(store.doc);
          expect(viewOf(store.doc, world)).toEqual(viewOf(world.hub, world, store.follows));
          // Its own writes reached the hub and came back unchanged.
          const key = world.writers[world.storeWriter(store.index)]?.key ?? '';
          expect(world.hub.getMap(LEDGER_MAP).get(key)).toEqual(store.doc.getMap(LEDGER_MAP).get(key));
        }
      }),
      { numRuns: runs(300) },
    );
  });

  it('step-by-step shares, each hub update filtered in order, and filtered merged batches in any order all end at the full share; a share twice changes nothing', () => {
    fc.assert(
      fc.property(
        shareScenarioArb,
        fc.array(fc.nat(), { maxLength: 200 }),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 20 }),
        fc.boolean(),
        (scenario, order, batchSizes, gc) => {
          let follows: number[] = [];
          const stepwise = new Y.Doc({ gc });
          let lastShare: Uint8Array = EMPTY_STATE_VECTOR;
          const world = play(scenario, (w) => {
            follows = w.writersOf(scenario.observed);
            lastShare = encodeShare(w.hub, w.clientsOf(follows), Y.encodeStateVector(stepwise));
            Y.applyUpdate(stepwise, lastShare, REMOTE);
          });
          const clients = world.clientsOf(follows);
          const full = docFrom([encodeShare(world.hub, clients)], gc);
          const inOrder = docFrom(
            world.hubUpdates.map((u) => filterUpdate(u, clients)),
            gc,
          );
          const shuffled = shuffle(world.hubUpdates, order);
          const batches: Uint8Array[] = [];
          for (let i = 0, b = 0; i < shuffled.length; b++) {
            const size = batchSizes[b % batchSizes.length] ?? 1;
            batches.push(filterUpdate(Y.mergeUpdates(shuffled.slice(i, i + size)), clients));
            i += size;
          }
          const anyOrder = docFrom(batches, gc);
          const expected = viewOf(world.hub, world, follows);
          for (const doc of [full, stepwise, inOrder, anyOrder]) {
            expectNothingPending(doc);
            expect(viewOf(doc, world)).toEqual(expected);
          }
          for (const [doc, share] of [
            [full, encodeShare(world.hub, clients)],
            [stepwise, lastShare],
          ] as const) {
            const before = Y.encodeStateAsUpdate(doc);
            let changed = false;
            doc.on('update', () => (changed = true));
            Y.applyUpdate(doc, share, REMOTE);
            expect(changed).toBe(false);
            expectSameBytes(Y.encodeStateAsUpdate(doc), before);
          }
        },
      ),
      { numRuns: runs(300) },
    );
  });

  it('keeping every client changes nothing: the same bytes as Yjs writes, the same document when applied', () => {
    fc.assert(
      fc.property(shareScenarioArb, (scenario) => {
        const checkpoints: Uint8Array[] = [];
        const world = play(scenario, (w) => {
          const all = w.allClients();
          for (const doc of [w.hub, ...w.stores.map((s) => s.doc)]) {
            // The hub may hold pending structs and deletes here: they are merged in as Yjs merges them.
            const sv = Y.encodeStateVector(doc);
            expectSameBytes(encodeShare(w.hub, all, sv), Y.encodeStateAsUpdate(w.hub, sv));
          }
          expectSameBytes(encodeShare(w.hub, all), Y.encodeStateAsUpdate(w.hub));
          expectSameBytes(shareStateVector(w.hub, all), Y.encodeStateVector(w.hub));
          checkpoints.push(Y.encodeStateAsUpdate(w.hub));
        });
        const all = world.allClients();
        for (const client of world.hub.store.clients.keys()) expect(all.has(client)).toBe(true);
        const updates = [...world.hubUpdates, ...world.stores.flatMap((s) => s.sent), ...checkpoints];
        for (const update of updates) {
          const filtered = filterUpdate(update, all);
          expectSameBytes(filtered, Y.diffUpdate(update, EMPTY_STATE_VECTOR));
          expectSameBytes(filterUpdate(filtered, all), filtered);
        }
        for (const gc of [true, false]) {
          const plain = docFrom(world.hubUpdates, gc);
          const filtered = docFrom(
            world.hubUpdates.map((u) => filterUpdate(u, all)),
            gc,
          );
          expectSameBytes(Y.encodeStateAsUpdate(filtered), Y.encodeStateAsUpdate(plain));
          expectSameBytes(Y.encodeStateVector(filtered), Y.encodeStateVector(world.hub));
        }
      }),
      { numRuns: runs(300) },
    );
  });

  it('a share does not depend on the clients outside it: a replica holding only the share encodes the same bytes', () => {
    fc.assert(
      fc.property(shareScenarioArb, (scenario) => {
        const world = play(scenario, () => {});
        const clients = world.clientsOf(world.writersOf(scenario.observed));
        const share = encodeShare(world.hub, clients);
        const holder = docFrom([share], scenario.hubGc);
        expectSameBytes(encodeShare(holder, clients), share);
        expectSameBytes(Y.encodeStateAsUpdate(holder), share);
      }),
      { numRuns: runs(300) },
    );
  });
});

/** `items` in the order of the sort keys `order` gives them (missing keys sort last, stably). */
function shuffle<T>(items: readonly T[], order: readonly number[]): T[] {
  return items
    .map((item, i) => ({ item, key: order[i] ?? Number.MAX_SAFE_INTEGER, i }))
    .sort((a, b) => a.key - b.key || a.i - b.i)
    .map(({ item }) => item);
}
