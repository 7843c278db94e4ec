import { CENTRAL_ACCOUNT, onlineAccount, storeAccount, type AccountId, type WriterKey } from '@shelfsync/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  computeStock,
  createSkuDoc,
  ledgerOf,
  readAccount,
  type AccountState,
  type Operation,
  type OperationOutcome,
} from '../src/index.js';
import {
  REMOTE,
  assertRightsConsistent,
  assertSafe,
  makeHub,
  makeStores,
  storeIdOf,
  syncWithHub,
  type Replica,
} from './support/replica.js';
import { runs } from './support/runs.js';

/**
 * A random run of a small chain: a hub and 2-4 stores, each store connected or
 * cut off, operations at random replicas on their local view, syncs over live
 * links, restarts with fresh client ids. Stores talk only to the hub, as in
 * production, and the hub validates everything a store sends.
 */
type Action =
  | { kind: 'op'; replica: number; pick: number; target: number; quantity: number; counted: number }
  | { kind: 'sync'; store: number }
  | { kind: 'link'; store: number; up: boolean }
  | { kind: 'restart'; replica: number };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('op' as const),
      replica: fc.nat(4),
      pick: fc.nat(7),
      target: fc.nat(3),
      quantity: fc.integer({ min: 1, max: 6 }),
      counted: fc.nat(20),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('sync' as const), store: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('link' as const), store: fc.nat(3), up: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), replica: fc.nat(4) }) },
);

const scenarioArb = fc.record({
  stores: fc.integer({ min: 2, max: 4 }),
  actions: fc.array(actionArb, { maxLength: 80 }),
});

const OVERRIDE_CAP = 5;

function storeOperation(index: number, pick: number, quantity: number, counted: number): Operation {
  const own = storeAccount(storeIdOf(index));
  switch (pick % 8) {
    case 0:
      return { type: 'receive', account: own, quantity: quantity * 3 };
    case 1:
      return { type: 'return', account: own, quantity };
    case 2:
      return { type: 'receiveTransfer', account: own, quantity };
    case 3:
      return { type: 'sell', account: own, quantity };
    case 4:
      return { type: 'shipOut', account: own, quantity };
    case 5:
      return { type: 'count', account: own, counted };
    case 6:
      // Manager override, capped: the store's rights may go below zero by at most the cap.
      return { type: 'sellOverride', account: own, quantity, cap: OVERRIDE_CAP };
    default:
      return { type: 'transferRights', from: own, to: onlineAccount(storeIdOf(index)), quantity };
  }
}

function hubOperation(target: number, pick: number, quantity: number, counted: number): Operation {
  const online = onlineAccount(storeIdOf(target));
  switch (pick % 9) {
    case 0:
      return { type: 'receive', account: online, quantity: quantity * 2 };
    case 1:
      return { type: 'receive', account: CENTRAL_ACCOUNT, quantity: quantity * 2 };
    case 2:
      return { type: 'transferRights', from: online, to: storeAccount(storeIdOf(target)), quantity };
    case 3:
      return { type: 'reserve', account: online, quantity };
    case 4:
      return { type: 'cancelReservation', account: online, quantity };
    case 5:
      return { type: 'settleReservation', account: online, quantity };
    case 6:
      return { type: 'shipOut', account: CENTRAL_ACCOUNT, quantity };
    case 7:
      return { type: 'coverDeficit', account: online };
    default:
      return { type: 'count', account: CENTRAL_ACCOUNT, counted };
  }
}

/** What the successful operations add up to, per account: the model the merged document must match. */
class Expected {
  readonly accounts = new Map<
    AccountId,
    { p: number; n: number; t: Map<AccountId, number>; reserved: number; settled: number; o: number; c: number }
  >();

  record(operation: Operation, outcome: OperationOutcome): void {
    const delta = outcome.delta;
    const account = operation.type === 'transferRights' ? operation.from : operation.account;
    let e = this.accounts.get(account);
    if (e === undefined) {
      e = { p: 0, n: 0, t: new Map(), reserved: 0, settled: 0, o: 0, c: 0 };
      this.accounts.set(account, e);
    }
    switch (operation.type) {
      case 'receive':
      case 'return':
      case 'receiveTransfer':
        e.p += operation.quantity;
        break;
      case 'sell':
      case 'shipOut':
        e.n += operation.quantity;
        break;
      case 'count':
        if (delta > 0) e.p += delta;
        else e.n -= delta;
        break;
      case 'reserve':
        e.n += operation.quantity;
        e.reserved += operation.quantity;
        break;
      case 'cancelReservation':
        e.p += operation.quantity;
        e.settled += operation.quantity;
        break;
      case 'settleReservation':
        e.settled += operation.quantity;
        break;
      case 'transferRights':
        e.t.set(operation.to, (e.t.get(operation.to) ?? 0) + operation.quantity);
        break;
      case 'sellOverride':
        e.n += operation.quantity;
        e.o += outcome.overridden ?? 0;
        break;
      case 'coverDeficit': {
        const store = `store:${operation.account.slice('online:'.length)}` as AccountId;
        if (delta < 0) e.t.set(store, (e.t.get(store) ?? 0) - delta);
        e.c += outcome.settled ?? 0;
        break;
      }
    }
  }

  stateOf(account: AccountId): AccountState {
    const e = this.accounts.get(account);
    if (e === undefined) return { p: 0, n: 0, t: {}, reserved: 0, settled: 0 };
    return {
      p: e.p,
      n: e.n,
      t: Object.fromEntries(e.t),
      reserved: e.reserved,
      settled: e.settled,
      // Written only once used, as the operations write them.
      ...(e.o > 0 ? { o: e.o } : {}),
      ...(e.c > 0 ? { c: e.c } : {}),
    };
  }
}

interface Outcome {
  stores: Replica[];
  hub: Replica;
  expected: Expected;
  operations: number;
}

function run(storeCount: number, actions: readonly Action[]): Outcome {
  const stores = makeStores(storeCount);
  const hub = makeHub();
  // The hub's durable client-id registry: its own id reserved from the start.
  const registry = new Map<number, WriterKey>([[hub.doc.clientID, 'hub']]);
  const replicas = [...stores, hub];
  const linked = stores.map(() => true);
  const expected = new Expected();
  let operations = 0;

  for (const action of actions) {
    switch (action.kind) {
      case 'op': {
        const index = action.replica % replicas.length;
        const replica = replicas[index];
        if (replica === undefined) throw new Error('no replica');
        const operation =
          replica === hub
            ? hubOperation(action.target % storeCount, action.pick, action.quantity, action.counted)
            : storeOperation(index, action.pick, action.quantity, action.counted);
        const result = replica.apply(operation);
        if (result.ok) {
          expected.record(operation, result.value);
          operations++;
        }
        assertSafe(replica.stock());
        assertRightsConsistent(replica.doc);
        break;
      }
      case 'sync': {
        const index = action.store % storeCount;
        const store = stores[index];
        if (store === undefined || !linked[index]) break;
        const verdict = syncWithHub(store, hub, registry);
        if (!verdict.ok) throw new Error(`hub rejected honest sync: ${verdict.error.code} ${verdict.error.detail}`);
        assertSafe(store.stock());
        assertSafe(hub.stock());
        break;
      }
      case 'link':
        linked[action.store % storeCount] = action.up;
        break;
      case 'restart': {
        const replica = replicas[action.replica % replicas.length];
        replica?.restart();
        if (replica === hub) registry.set(hub.doc.clientID, 'hub');
        break;
      }
    }
  }

  // Heal: every link up, two rounds so each store's news reaches every other store.
  for (let round = 0; round < 2; round++) {
    for (const store of stores) {
      const verdict = syncWithHub(store, hub, registry);
      if (!verdict.ok) throw new Error(`hub rejected honest sync: ${verdict.error.code} ${verdict.error.detail}`);
    }
  }
  return { stores, hub, expected, operations };
}

describe('bounded PN-counter laws (fast-check)', () => {
  it('safety: no account below zero (a POS only by its capped override deficit), Σ rights == value, at every replica after every step', () => {
    fc.assert(
      fc.property(scenarioArb, ({ stores, actions }) => {
        const outcome = run(stores, actions);
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
        const outcome = run(stores, actions);
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
          const outcome = run(stores, actions);
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
        const outcome = run(stores, actions);
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
    const hub = makeHub();
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
});
