import {
  AccountIdSchema,
  CENTRAL_LOCATION,
  ErrorCode,
  accountOwner,
  fail,
  ok,
  ownsAccount,
  ownsKey,
  parseAccountId,
  writerKey,
  type AccountId,
  type Result,
  type Writer,
  type WriterKey,
} from '@shelfsync/protocol';
import type * as Y from 'yjs';
import { checkClientFor } from './client-owners.js';
import { computeStock, deficitAllowance, ledgerOf, readEntry, rightsOf } from './ledger.js';
import { EMPTY_ACCOUNT, type AccountState, type LedgerEntry } from './schema.js';
import { schemaVersion, transactAs, type WriterClients } from './version.js';
import { z } from 'zod';

/** Units moved by one operation: a positive integer, at most a billion. */
export const QuantitySchema = z.int().min(1).max(1_000_000_000);

const accountQuantity = { account: AccountIdSchema, quantity: QuantitySchema };

/**
 * Every operation on a SKU document, as data. Each runs as one Yjs transaction
 * by the owner of the account it changes.
 */
export const OperationSchema = z.discriminatedUnion('type', [
  /** Units arrive from a supplier: p += quantity. */
  z.strictObject({ type: z.literal('receive'), ...accountQuantity }),
  /** A customer returns units: p += quantity. */
  z.strictObject({ type: z.literal('return'), ...accountQuantity }),
  /** Units arrive from another location: p += quantity. */
  z.strictObject({ type: z.literal('receiveTransfer'), ...accountQuantity }),
  /** A sale: n += quantity, only with enough rights. */
  z.strictObject({ type: z.literal('sell'), ...accountQuantity }),
  /** Units leave for another location: n += quantity, only with enough rights. */
  z.strictObject({ type: z.literal('shipOut'), ...accountQuantity }),
  /** A physical count of a location, booked as the delta against this replica's view of its shelf. */
  z.strictObject({ type: z.literal('count'), account: AccountIdSchema, counted: z.int().min(0).max(1_000_000_000) }),
  /** Rights move between the two accounts of one location (release: store > online; grant: online > store). */
  z.strictObject({
    type: z.literal('transferRights'),
    from: AccountIdSchema,
    to: AccountIdSchema,
    quantity: QuantitySchema,
  }),
  /** Units held for an online order: n += quantity and reserved += quantity. */
  z.strictObject({ type: z.literal('reserve'), ...accountQuantity }),
  /** A reservation is cancelled and its units return to the shelf: p += quantity, settled += quantity. */
  z.strictObject({ type: z.literal('cancelReservation'), ...accountQuantity }),
  /** Reserved units are picked up or shipped: settled += quantity. */
  z.strictObject({ type: z.literal('settleReservation'), ...accountQuantity }),
  /**
   * Manager override, store accounts only: a sale of units physically in hand
   * beyond the account's rights. n += quantity, and o += the part no rights
   * covered, refused when the store's unsettled deficit would pass `cap`.
   */
  z.strictObject({ type: z.literal('sellOverride'), ...accountQuantity, cap: z.int().min(0).max(1_000_000_000) }),
  /**
   * Hub only, on `online:X`: settles store X's deficit. Grants what its online
   * rights can of the store's negative rights (online:X > store:X) and records in
   * `c` every settled unit, including those the store's own receipts repaid.
   */
  z.strictObject({ type: z.literal('coverDeficit'), account: AccountIdSchema }),
]);
export type Operation = z.infer<typeof OperationSchema>;
export type OperationType = Operation['type'];

/** What an operation did. */
export interface OperationOutcome {
  readonly type: OperationType;
  /** The account whose rights the operation changed (the giving account for a transfer). */
  readonly account: AccountId;
  /** Signed change of that account's rights; 0 for a count that matched. */
  readonly delta: number;
  /** The account's rights after the operation. */
  readonly rights: number;
  /** sellOverride: units sold beyond rights (added to `o`). */
  readonly overridden?: number;
  /** coverDeficit: deficit units settled (added to `c`). */
  readonly settled?: number;
}

/** Whether rights may move from one account to the other: only between the two accounts of one store. */
export function isAllowedTransfer(from: AccountId, to: AccountId): boolean {
  const a = parseAccountId(from);
  const b = parseAccountId(to);
  return a !== null && b !== null && a.location === b.location && a.location !== CENTRAL_LOCATION && a.kind !== b.kind;
}

type Change = (state: AccountState) => AccountState;

/** The client id a write goes under and the neutral id put back after it; null: the document's own id. */
type WriteClient = { readonly client: number; readonly neutral: number } | null;

/**
 * Applies one operation as the given writer, in one Yjs transaction (with
 * `origin` as its origin). Fails with a coded error, changing nothing, when the
 * writer does not own the account, the rights do not cover a decrement, or a
 * total would overflow.
 *
 * The entry written is the account's owner's in the document's version: a
 * store's `store:<id>` (under the document's client id, its replica's), the
 * hub's `hub` in version 1, or in version 2 the account's own `online:<location>`,
 * written under `clients.idFor(key)`: `doc.clientID` is set just before the
 * transaction and `clients.neutral` put back after it. Without `clients` a
 * version 1 hub write goes under the document's id, as always; a version 2 one
 * is refused (VALIDATION_FAILED).
 */
export function applyOperation(
  doc: Y.Doc,
  writer: Writer,
  operation: Operation,
  origin: unknown = null,
  clients?: WriterClients,
): Result<OperationOutcome> {
  const account = operation.type === 'transferRights' ? operation.from : operation.account;
  const version = schemaVersion(doc);
  const key = accountOwner(account, version);
  if (!ownsAccount(writer, account) || !ownsKey(writer, key, version)) {
    return fail(ErrorCode.NotOwner, `${writerKey(writer)} may not write account ${account}`, { account });
  }
  let target: WriteClient = null;
  if (writer.kind !== 'store' && clients !== undefined) {
    const client = clients.idFor(key);
    const taken = checkClientFor(doc, key, client, clients.neutral);
    if (taken !== null) return taken;
    target = { client, neutral: clients.neutral };
  } else if (writer.kind !== 'store' && version === 2) {
    return fail(ErrorCode.ValidationFailed, `a version 2 document takes ${key} under its own client id: none given`, {
      account,
    });
  }
  const put = (change: Change, outcome: OperationOutcome): Result<OperationOutcome> =>
    write(doc, key, target, account, change, origin, outcome);
  const rights = rightsOf(doc, account);
  const increment = (quantity: number, change: Change): Result<OperationOutcome> =>
    put(change, {
      type: operation.type,
      account,
      delta: quantity,
      rights: rights + quantity,
    });
  const decrement = (quantity: number, change: Change): Result<OperationOutcome> => {
    if (rights < quantity) {
      return fail(ErrorCode.InsufficientRights, `${account} holds ${rights} rights, ${quantity} needed`, {
        account,
        rights,
        requested: quantity,
      });
    }
    return put(change, {
      type: operation.type,
      account,
      delta: -quantity,
      rights: rights - quantity,
    });
  };

  switch (operation.type) {
    case 'receive':
    case 'return':
    case 'receiveTransfer': {
      const q = operation.quantity;
      return increment(q, (s) => ({ ...s, p: s.p + q }));
    }
    case 'sell':
    case 'shipOut': {
      const q = operation.quantity;
      return decrement(q, (s) => ({ ...s, n: s.n + q }));
    }
    case 'reserve': {
      if (parseAccountId(account)?.kind !== 'online') {
        return fail(ErrorCode.ValidationFailed, `reservations are held by online accounts, not ${account}`, {
          account,
        });
      }
      const q = operation.quantity;
      return decrement(q, (s) => ({ ...s, n: s.n + q, reserved: s.reserved + q }));
    }
    case 'cancelReservation':
    case 'settleReservation': {
      const q = operation.quantity;
      const state = readEntry(doc, key)[account] ?? EMPTY_ACCOUNT;
      const outstanding = state.reserved - state.settled;
      if (outstanding < q) {
        return fail(
          ErrorCode.InsufficientReservation,
          `${account} has ${outstanding} reserved units outstanding, ${q} requested`,
          {
            account,
            outstanding,
            requested: q,
          },
        );
      }
      if (operation.type === 'settleReservation') {
        return put((s) => ({ ...s, settled: s.settled + q }), {
          type: operation.type,
          account,
          delta: 0,
          rights,
        });
      }
      return increment(q, (s) => ({ ...s, p: s.p + q, settled: s.settled + q }));
    }
    case 'count': {
      const parsed = parseAccountId(account);
      if (parsed === null || (parsed.kind === 'online' && parsed.location !== CENTRAL_LOCATION)) {
        return fail(
          ErrorCode.ValidationFailed,
          `count a store through its store: account, or the warehouse through online:dc`,
          {
            account,
          },
        );
      }
      const shelf = computeStock(doc).locations[parsed.location]?.onShelf ?? 0;
      const delta = operation.counted - shelf;
      if (delta === 0) return ok({ type: operation.type, account, delta: 0, rights });
      return delta > 0
        ? increment(delta, (s) => ({ ...s, p: s.p + delta }))
        : decrement(-delta, (s) => ({ ...s, n: s.n - delta }));
    }
    case 'sellOverride': {
      if (parseAccountId(account)?.kind !== 'store') {
        return fail(ErrorCode.ValidationFailed, `only a store's POS account sells under override, not ${account}`, {
          account,
        });
      }
      const q = operation.quantity;
      // Covered by rights: an ordinary sale.
      if (rights >= q) return decrement(q, (s) => ({ ...s, n: s.n + q }));
      const beyond = q - Math.max(0, rights);
      const outstanding = deficitAllowance(doc, account);
      if (outstanding + beyond > operation.cap) {
        return fail(
          ErrorCode.OverrideCapExceeded,
          operation.cap === 0
            ? 'the manager override is off at this store'
            : `${account} would owe ${outstanding + beyond} units under override, the cap is ${operation.cap}`,
          { account, rights, requested: q, outstanding, cap: operation.cap },
        );
      }
      return put((s) => ({ ...s, n: s.n + q, o: (s.o ?? 0) + beyond }), {
        type: operation.type,
        account,
        delta: -q,
        rights: rights - q,
        overridden: beyond,
      });
    }
    case 'coverDeficit': {
      const parsed = parseAccountId(account);
      if (parsed === null || parsed.kind !== 'online' || parsed.location === CENTRAL_LOCATION) {
        return fail(ErrorCode.ValidationFailed, `deficits are covered from a store's online account, not ${account}`, {
          account,
        });
      }
      const store = `store:${parsed.location}` as AccountId;
      const storeRights = rightsOf(doc, store);
      const granted = Math.min(Math.max(0, -storeRights), Math.max(0, rights));
      // What stays owed after the grant; everything else of `o - c` is settled.
      const settled = deficitAllowance(doc, store) + Math.min(0, storeRights + granted);
      if (granted === 0 && settled <= 0) return ok({ type: operation.type, account, delta: 0, rights, settled: 0 });
      return put(
        (s) => ({
          ...s,
          t: granted === 0 ? s.t : { ...s.t, [store]: (s.t[store] ?? 0) + granted },
          c: (s.c ?? 0) + settled,
        }),
        { type: operation.type, account, delta: granted === 0 ? 0 : -granted, rights: rights - granted, settled },
      );
    }
    case 'transferRights': {
      const { to, quantity: q } = operation;
      if (!isAllowedTransfer(account, to)) {
        return fail(
          ErrorCode.InvalidTransfer,
          `rights move only between store:X and online:X of one store, not ${account} > ${to}`,
          {
            from: account,
            to,
          },
        );
      }
      return decrement(q, (s) => ({ ...s, t: { ...s.t, [to]: (s.t[to] ?? 0) + q } }));
    }
  }
}

function write(
  doc: Y.Doc,
  key: WriterKey,
  target: WriteClient,
  account: AccountId,
  change: Change,
  origin: unknown,
  outcome: OperationOutcome,
): Result<OperationOutcome> {
  const entry = readEntry(doc, key);
  const next = change(entry[account] ?? EMPTY_ACCOUNT);
  if (!isSafeState(next)) {
    return fail(ErrorCode.CounterOverflow, `a total of ${account} would pass ${Number.MAX_SAFE_INTEGER}`, { account });
  }
  // A version 2 online entry is its one account; a store's or the version 1 hub's keeps its others.
  const nextEntry: LedgerEntry = key.startsWith('online:') ? { [account]: next } : { ...entry, [account]: next };
  const set = (): void => {
    ledgerOf(doc).set(key, nextEntry);
  };
  if (target === null) doc.transact(set, origin);
  else transactAs(doc, target.client, target.neutral, set, origin);
  return ok(outcome);
}

function isSafeState(state: AccountState): boolean {
  return (
    Number.isSafeInteger(state.p) &&
    Number.isSafeInteger(state.n) &&
    Number.isSafeInteger(state.reserved) &&
    Number.isSafeInteger(state.settled) &&
    Number.isSafeInteger(state.o ?? 0) &&
    Number.isSafeInteger(state.c ?? 0) &&
    Object.values(state.t).every((q) => Number.isSafeInteger(q))
  );
}
