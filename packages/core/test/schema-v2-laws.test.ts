import { ErrorCode, accountOwner, onlineAccount, storeAccount, type AccountId } from '@shelfsync/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  computeStock,
  createSkuDoc,
  deficitAllowance,
  heldClientOwners,
  ledgerOf,
  migrateToV2,
  parseLedgerEntry,
  readAccount,
  reservableRights,
  rightsOf,
  schemaVersion,
} from '../src/index.js';
import { MemoryWriterClients } from '../src/testing/index.js';
import { run, scenarioArb } from './support/chain-run.js';
import { updateOfClients } from './support/partial.js';
import { TEST_SKU, assertSafe, storeIdOf, syncWithHub } from './support/replica.js';
import { runs } from './support/runs.js';

describe('schema version 2 against version 1 (fast-check)', () => {
  it('the same random run gives the same stock, account for account, at the hub and every store', () => {
    fc.assert(
      fc.property(scenarioArb, ({ stores, actions }) => {
        const v1 = run(stores, actions, 1);
        const v2 = run(stores, actions, 2);
        expect(v2.expected.accounts).toEqual(v1.expected.accounts);
        const reference = computeStock(v1.hub.doc);
        for (const doc of [v2.hub.doc, ...v2.stores.map((s) => s.doc)]) {
          expect(schemaVersion(doc)).toBe(2);
          expect(computeStock(doc)).toEqual(reference);
        }
        const keys = Object.keys(ledgerOf(v2.hub.doc).toJSON());
        expect(keys.every((key) => key.startsWith('store:') || key.startsWith('online:'))).toBe(true);
      }),
      { numRuns: runs(300), seed: 20_001 },
    );
  });

  it('migrateToV2 leaves the stock as it was, everywhere; a second call changes nothing; the hub entry is never counted twice', () => {
    fc.assert(
      fc.property(scenarioArb, ({ stores, actions }) => {
        const { hub, stores: replicas } = run(stores, actions, 1);
        const before = computeStock(hub.doc);
        const mirror: unknown = ledgerOf(hub.doc).get('hub');
        const clients = new MemoryWriterClients();
        const migrated = migrateToV2(hub.doc, TEST_SKU, clients);
        expect(migrated.ok).toBe(true);
        expect(computeStock(hub.doc)).toEqual(before);
        expect(ledgerOf(hub.doc).get('hub')).toBe(mirror);
        // Each online account once, from its own entry: exactly what the hub entry held.
        for (const [account, state] of Object.entries(parseLedgerEntry(mirror) ?? {})) {
          expect(ledgerOf(hub.doc).get(account)).toEqual({ [account]: state });
          expect(before.accounts[account]).toMatchObject({ p: state.p, n: state.n, reserved: state.reserved });
        }
        const bytes = Y.encodeStateAsUpdate(hub.doc);
        expect(migrateToV2(hub.doc, TEST_SKU, clients)).toMatchObject({
          ok: false,
          error: { code: ErrorCode.ValidationFailed },
        });
        expect(Y.encodeStateAsUpdate(hub.doc)).toEqual(bytes);
        for (const store of replicas) {
          expect(syncWithHub(store, hub).ok).toBe(true);
          expect(schemaVersion(store.doc)).toBe(2);
          expect(computeStock(store.doc)).toEqual(before);
        }
      }),
      { numRuns: runs(300), seed: 20_002 },
    );
  });

  it('a chain whose hub migrates midway keeps every law: safety, convergence, no lost operation', () => {
    fc.assert(
      fc.property(scenarioArb, fc.nat(), ({ stores, actions }, at) => {
        const outcome = run(stores, actions, 1, at % (actions.length + 1));
        const view = computeStock(outcome.hub.doc);
        assertSafe(view);
        expect(schemaVersion(outcome.hub.doc)).toBe(2);
        for (const store of outcome.stores) expect(computeStock(store.doc)).toEqual(view);
        let value = 0;
        for (const [account] of outcome.expected.accounts) {
          const owner = account.startsWith('store:') ? (account as `store:${string}`) : 'hub';
          expect(readAccount(outcome.hub.doc, owner, account)).toEqual(outcome.expected.stateOf(account));
          value += outcome.expected.stateOf(account).p - outcome.expected.stateOf(account).n;
        }
        expect(view.value).toBe(value);
      }),
      { numRuns: runs(300), seed: 20_003 },
    );
  });
});

describe('schema version 2: a replica of one location (fast-check)', () => {
  it('fed only the structs of its store’s ids, its online account’s id and meta’s id, it applies them all and reads what the hub reads', () => {
    fc.assert(
      fc.property(scenarioArb, ({ stores, actions }) => {
        const { hub } = run(stores, actions, 2);
        const clients = hub.clients;
        if (clients === undefined) throw new Error('no writer ids');
        const owners = heldClientOwners(hub.doc);
        for (let index = 0; index < stores; index++) {
          const pos = storeAccount(storeIdOf(index));
          const online = onlineAccount(storeIdOf(index));
          const onlineKey = accountOwner(online, 2);
          // A store's restarts give it several ids, each writing only its key.
          const ids = new Set([clients.idFor(onlineKey), clients.idFor('meta')]);
          for (const [client, owner] of owners) if (owner === pos) ids.add(client);
          const replica = createSkuDoc();
          Y.applyUpdate(replica, updateOfClients(hub.doc, ids));
          expect(replica.store.pendingStructs).toBeNull();
          expect(replica.store.pendingDs).toBeNull();
          expect(schemaVersion(replica)).toBe(2);
          expect(Object.keys(ledgerOf(replica).toJSON()).every((key) => key === pos || key === online)).toBe(true);
          for (const key of [pos, online]) expect(ledgerOf(replica).get(key)).toEqual(ledgerOf(hub.doc).get(key));
          for (const account of [pos, online] as AccountId[]) {
            expect(rightsOf(replica, account)).toBe(rightsOf(hub.doc, account));
            expect(deficitAllowance(replica, account)).toBe(deficitAllowance(hub.doc, account));
            expect(reservableRights(replica, account)).toBe(reservableRights(hub.doc, account));
          }
          const location = computeStock(hub.doc).locations[storeIdOf(index)];
          expect(computeStock(replica).locations[storeIdOf(index)]).toEqual(location);
        }
      }),
      { numRuns: runs(300), seed: 20_004 },
    );
  });
});
