import {
  CENTRAL_ACCOUNT,
  onlineAccount,
  storeAccount,
  type AccountId,
  type SchemaVersion,
  type WriterKey,
} from '@shelfsync/protocol';
import fc from 'fast-check';
import type { AccountState, Operation, OperationOutcome } from '../../src/index.js';
import {
  assertRightsConsistent,
  assertSafe,
  makeHub,
  makeStores,
  storeIdOf,
  syncWithHub,
  type Replica,
} from './replica.js';

/**
 * A random run of a small chain: a hub and 2-4 stores, each store connected or
 * cut off, operations at random replicas on their local view, syncs over live
 * links, restarts with fresh client ids. Stores talk only to the hub, as in
 * production, and the hub validates everything a store sends.
 */
export type Action =
  | { kind: 'op'; replica: number; pick: number; target: number; quantity: number; counted: number }
  | { kind: 'sync'; store: number }
  | { kind: 'link'; store: number; up: boolean }
  | { kind: 'restart'; replica: number };

export const actionArb: fc.Arbitrary<Action> = fc.oneof(
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

export const scenarioArb = fc.record({
  stores: fc.integer({ min: 2, max: 4 }),
  actions: fc.array(actionArb, { maxLength: 80 }),
});

export const OVERRIDE_CAP = 5;

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
export class Expected {
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

export interface Outcome {
  stores: Replica[];
  hub: Replica;
  expected: Expected;
  operations: number;
}

/**
 * Runs `actions` on a chain whose hub document is of `version`; with `migrateAt`,
 * a version 1 chain whose hub migrates to version 2 before that action.
 */
export function run(
  storeCount: number,
  actions: readonly Action[],
  version: SchemaVersion = 1,
  migrateAt?: number,
): Outcome {
  const stores = makeStores(storeCount);
  const hub = makeHub(migrateAt === undefined ? version : 1);
  // The hub's durable client-id registry: its own id reserved from the start.
  const registry = new Map<number, WriterKey>([[hub.doc.clientID, 'hub']]);
  const replicas = [...stores, hub];
  const linked = stores.map(() => true);
  const expected = new Expected();
  let operations = 0;

  for (const [step, action] of actions.entries()) {
    if (step === migrateAt) hub.migrate();
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
        // A hub writing under per-key ids holds the neutral one between writes.
        if (replica === hub && hub.clients !== undefined && hub.doc.clientID !== hub.clients.neutral) {
          throw new Error(`the hub's document holds client id ${hub.doc.clientID} after a write`);
        }
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

  if (migrateAt !== undefined && migrateAt >= actions.length) hub.migrate();
  // Heal: every link up, two rounds so each store's news reaches every other store.
  for (let round = 0; round < 2; round++) {
    for (const store of stores) {
      const verdict = syncWithHub(store, hub, registry);
      if (!verdict.ok) throw new Error(`hub rejected honest sync: ${verdict.error.code} ${verdict.error.detail}`);
    }
  }
  return { stores, hub, expected, operations };
}
