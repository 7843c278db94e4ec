import { onlineAccount, storeAccount, type AccountId, type SchemaVersion } from '@shelfsync/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { computeStock, createSkuDoc, ledgerOf, readAccount } from '../src/index.js';
import { OVERRIDE_CAP, run, scenarioArb } from './support/chain-run.js';
import { REMOTE, assertSafe, makeHub, makeStores, storeIdOf, syncWithHub } from './support/replica.js';
import { runs } from './support/runs.js';

// Every law holds for both schema versions: version 2 is a different layout of the same counter.
describe.each([1, 2] as const satisfies readonly SchemaVersion[])(
  'bounded PN-counter laws, schema version %i (fast-check)',
  (version) => {
    it('safety: no account below zero (a POS only by its capped override deficit), Σ rights == value, at every replica after every step', () => {
      fc.assert(
        fc.property(scenarioArb, ({ stores, actions }) => {
          const outcome = run(stores, actions, version);
          for (const replica of [...outcome.stores, outcome.hub]) {
            const view = replica.stock();
            assertSafe(view);
            // The chain oversells at most by the override caps of its stores.
            expect(view.committed - view.added).toBeLessThanOrEqual(stores * OVERRIDE_CAP);
          }
        }),
        { numRuns: runs(1000) },
      );
    });

    it('convergence: after heal every replica holds the same entries and the same derived stock', () => {
      fc.assert(
        fc.property(scenarioArb, ({ stores, actions }) => {
          const outcome = run(stores, actions, version);
          const reference = ledgerOf(outcome.hub.doc).toJSON();
          const referenceStock = computeStock(outcome.hub.doc);
          for (const store of outcome.stores) {
            expect(ledgerOf(store.doc).toJSON()).toEqual(reference);
            expect(computeStock(store.doc)).toEqual(referenceStock);
            expect(Y.encodeStateVector(store.doc)).toEqual(Y.encodeStateVector(outcome.hub.doc));
          }
        }),
        { numRuns: runs(1000) },
      );
    });

    it('convergence: any order, duplication and reordering of every update gives the same document', () => {
      fc.assert(
        fc.property(
          scenarioArb,
          fc.array(fc.nat(), { minLength: 1, maxLength: 400 }),
          fc.array(fc.nat(), { minLength: 1, maxLength: 400 }),
          ({ stores, actions }, orderA, orderB) => {
            const outcome = run(stores, actions, version);
            const all = [...outcome.stores, outcome.hub].flatMap((replica) => replica.sent);
            const reference = ledgerOf(outcome.hub.doc).toJSON();
            const referenceStock = computeStock(outcome.hub.doc);
            for (const order of [orderA, orderB]) {
              const doc = createSkuDoc();
              // A random schedule with repeats, then everything once more in reverse, so each update arrives at least once.
              for (const i of order) if (all.length > 0) Y.applyUpdate(doc, all[i % all.length] as Uint8Array, REMOTE);
              for (const update of [...all].reverse()) Y.applyUpdate(doc, update, REMOTE);
              expect(doc.store.pendingStructs).toBeNull();
              expect(ledgerOf(doc).toJSON()).toEqual(reference);
              expect(computeStock(doc)).toEqual(referenceStock);
            }
          },
        ),
        { numRuns: runs(400) },
      );
    });

    it('no lost operation: merged totals equal the sum of every operation a replica reported as successful', () => {
      fc.assert(
        fc.property(scenarioArb, ({ stores, actions }) => {
          const outcome = run(stores, actions, version);
          const view = computeStock(outcome.hub.doc);
          const accounts = new Set<AccountId>([
            ...outcome.expected.accounts.keys(),
            ...(Object.keys(view.accounts) as AccountId[]),
          ]);
          for (const account of accounts) {
            const owner = account.startsWith('store:') ? (account as `store:${string}`) : 'hub';
            expect(readAccount(outcome.hub.doc, owner, account)).toEqual(outcome.expected.stateOf(account));
          }
          let added = 0;
          let committed = 0;
          for (const account of accounts) {
            added += outcome.expected.stateOf(account).p;
            committed += outcome.expected.stateOf(account).n;
          }
          expect(view.value).toBe(added - committed);
        }),
        { numRuns: runs(1000) },
      );
    });

    it('partitions cost availability, never safety: concurrent sales at cut-off stores cannot overdraw', () => {
      // A deterministic worst case next to the random runs: every store sells its
      // whole quota while cut off, the hub reserves its whole online quota, then all merge.
      const stores = makeStores(3);
      const hub = makeHub(version);
      stores.forEach((store, i) => {
        store.apply({ type: 'receive', account: storeAccount(storeIdOf(i)), quantity: 10 });
        store.apply({
          type: 'transferRights',
          from: storeAccount(storeIdOf(i)),
          to: onlineAccount(storeIdOf(i)),
          quantity: 4,
        });
        syncWithHub(store, hub);
      });
      stores.forEach((store, i) => {
        expect(store.apply({ type: 'sell', account: storeAccount(storeIdOf(i)), quantity: 6 }).ok).toBe(true);
        expect(store.apply({ type: 'sell', account: storeAccount(storeIdOf(i)), quantity: 1 }).ok).toBe(false);
        expect(hub.apply({ type: 'reserve', account: onlineAccount(storeIdOf(i)), quantity: 4 }).ok).toBe(true);
      });
      for (const store of stores) syncWithHub(store, hub);
      for (const store of stores) syncWithHub(store, hub);
      const view = computeStock(hub.doc);
      assertSafe(view);
      expect(view.value).toBe(0);
      expect(view.added).toBe(30);
      expect(view.committed).toBe(30);
    });
  },
);
