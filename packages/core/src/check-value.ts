import {
  CENTRAL_LOCATION,
  ErrorCode,
  accountOwner,
  fail,
  ownsAccount,
  parseAccountId,
  type AccountId,
  type Result,
  type Writer,
  type WriterKey,
} from '@shelfsync/protocol';
import type * as Y from 'yjs';
import { deficitAllowance, parseLedgerEntry, rightsOf } from './ledger.js';
import { schemaVersion } from './version.js';
import { isAllowedTransfer } from './operations.js';
import {
  EMPTY_ACCOUNT,
  LEDGER_MAP,
  LedgerEntrySchema,
  isMetaKey,
  metaValueSchemas,
  type AccountState,
  type LedgerEntry,
} from './schema.js';

/** The limits an entry is judged against (see ValidationLimits). */
export interface EntryLimits {
  readonly maxDeficit?: number;
}

type Rejection = Result<never>;

export function checkMeta(key: string, value: unknown): Rejection | null {
  if (!isMetaKey(key)) return fail(ErrorCode.UpdateUnexpectedType, `meta key "${key}" is not in the schema`);
  if (!metaValueSchemas[key].safeParse(value).success) {
    return fail(ErrorCode.UpdateInvalidValue, `meta.${key} does not match the schema`);
  }
  return null;
}

export function checkEntry(
  doc: Y.Doc,
  writer: Writer,
  key: WriterKey,
  value: unknown,
  limits: EntryLimits,
): Rejection | null {
  let next: LedgerEntry = {};
  if (value !== undefined) {
    const parsed = LedgerEntrySchema.safeParse(value);
    if (!parsed.success) return fail(ErrorCode.UpdateInvalidValue, `ledger entry ${key} does not match the schema`);
    next = parsed.data;
  }
  const version = schemaVersion(doc);
  for (const [account, state] of Object.entries(next) as [AccountId, AccountState][]) {
    // The entry's key must be where the version keeps the account: a version 2 online entry holds only itself.
    if (!ownsAccount(writer, account) || accountOwner(account, version) !== key) {
      return fail(ErrorCode.UpdateForeignEntry, `ledger entry ${key} holds account ${account}, which it does not own`);
    }
    for (const to of Object.keys(state.t) as AccountId[]) {
      if (!isAllowedTransfer(account, to)) {
        return fail(ErrorCode.UpdateInvalidValue, `transfer ${account} > ${to} is not between one store's accounts`);
      }
    }
    if (state.settled > state.reserved) {
      return fail(ErrorCode.UpdateInvalidValue, `${account} settles more reserved units than it reserved`);
    }
    const parsed = parseAccountId(account);
    if (state.o !== undefined && parsed?.kind !== 'store') {
      return fail(
        ErrorCode.UpdateInvalidValue,
        `${account} holds an override total; only store accounts sell under override`,
      );
    }
    if (state.c !== undefined && (parsed?.kind !== 'online' || parsed.location === CENTRAL_LOCATION)) {
      return fail(ErrorCode.UpdateInvalidValue, `${account} holds a covered total; only a store's online account does`);
    }
  }
  const previous = parseLedgerEntry(heldValue(doc, key)) ?? {};
  for (const [account, old] of Object.entries(previous) as [AccountId, AccountState][]) {
    const decreased = findDecrease(old, next[account] ?? EMPTY_ACCOUNT);
    if (decreased !== null) {
      return fail(ErrorCode.UpdateDecreasingTotal, `${account}.${decreased} would decrease`, {
        account,
        field: decreased,
      });
    }
  }
  for (const [account, state] of Object.entries(next) as [AccountId, AccountState][]) {
    // A deficit is run up only by sales beyond rights: o grows by at most what n grows.
    const old = previous[account] ?? EMPTY_ACCOUNT;
    if ((state.o ?? 0) - (old.o ?? 0) > state.n - old.n) {
      return fail(ErrorCode.UpdateInvalidValue, `${account} raises its override total beyond its sales`, { account });
    }
  }
  for (const account of Object.keys(next) as AccountId[]) {
    const replace = { key, entry: next };
    const rights = rightsOf(doc, account, replace);
    // Below zero only by an unsettled manager-override deficit (0 for every other account).
    const allowance = deficitAllowance(doc, account, replace);
    if (rights + allowance < 0) {
      return fail(ErrorCode.UpdateOverdrawn, `${account} would hold ${rights} rights`, { account, rights, allowance });
    }
    const maxDeficit = limits.maxDeficit ?? Number.POSITIVE_INFINITY;
    // Only a growing deficit is judged: one the hub accepted before a cap was lowered is not held against later sales.
    if (allowance > maxDeficit && allowance > deficitAllowance(doc, account)) {
      return fail(
        ErrorCode.OverrideCapExceeded,
        `${account} would owe ${allowance} units, the hub accepts ${maxDeficit}`,
        {
          account,
          outstanding: allowance,
          cap: maxDeficit,
        },
      );
    }
  }
  return null;
}

function findDecrease(old: AccountState, next: AccountState): string | null {
  for (const field of ['p', 'n', 'reserved', 'settled'] as const) {
    if (next[field] < old[field]) return field;
  }
  for (const field of ['o', 'c'] as const) {
    if ((next[field] ?? 0) < (old[field] ?? 0)) return field;
  }
  for (const [to, quantity] of Object.entries(old.t) as [AccountId, number][]) {
    if ((next.t[to] ?? 0) < quantity) return `t.${to}`;
  }
  return null;
}

/** The value the document holds for a key, read without creating any shared type. */
function heldValue(doc: Y.Doc, key: WriterKey): unknown {
  const item = doc.share.get(LEDGER_MAP)?._map.get(key);
  if (item === undefined || item.deleted) return undefined;
  return item.content.getContent()[item.length - 1];
}
