import {
  CENTRAL_LOCATION,
  accountOwner,
  parseAccountId,
  type AccountId,
  type SchemaVersion,
  type WriterKey,
} from '@shelfsync/protocol';
import type * as Y from 'yjs';
import { EMPTY_ACCOUNT, LEDGER_MAP, LedgerEntrySchema, type AccountState, type LedgerEntry } from './schema.js';
import { schemaVersion } from './version.js';

/** Totals of one account and what follows from them. */
export interface AccountTotals {
  readonly account: AccountId;
  readonly p: number;
  readonly n: number;
  /** Σ t[x>account]: rights received from other accounts. */
  readonly received: number;
  /** Σ t[account>x]: rights given to other accounts. */
  readonly given: number;
  /** p - n + received - given: units this account may still commit. */
  readonly rights: number;
  readonly reserved: number;
  readonly settled: number;
  /** reserved - settled: units held for reservations that are still on the shelf. */
  readonly outstanding: number;
  /** `o`: units sold under the manager override beyond rights (store accounts). */
  readonly overridden: number;
  /** `c`: units of the store's deficit the hub has settled (online accounts). */
  readonly covered: number;
}

/** Stock of one physical location: a store, or `dc` for the central warehouse. */
export interface LocationStock {
  readonly location: string;
  /** Rights of the location's `store:` account (0 for `dc`). */
  readonly posRights: number;
  /** Rights of the location's `online:` account. */
  readonly onlineRights: number;
  /** Units reserved online and not yet picked up, shipped or cancelled. */
  readonly outstandingReservations: number;
  /** posRights + onlineRights + outstandingReservations. */
  readonly onShelf: number;
  /** Units the POS sold under the manager override that no rights cover yet: max(0, -posRights). */
  readonly deficit: number;
  /** Outstanding reservations the deficit may have sold from: min(deficit, outstandingReservations). */
  readonly reservationsAtRisk: number;
  /** What an online reservation for pickup there may take: onlineRights less the deficit (see reservableRights). */
  readonly reservable: number;
}

/** Everything derived from one SKU document. */
export interface StockView {
  /** Σp - Σn: units not yet committed, chain-wide. Always equals Σ rights. */
  readonly value: number;
  readonly added: number;
  readonly committed: number;
  readonly accounts: Readonly<Record<string, AccountTotals>>;
  readonly locations: Readonly<Record<string, LocationStock>>;
  /**
   * Ledger keys left out of every total: a value that does not parse, a version 2
   * online entry that is not exactly its own account, or a key the document's
   * version does not have (in version 1 anything but `store:*` and `hub`). The
   * `hub` entry of a version 2 document is left out too, but is not listed: it is
   * a copy kept for stores that read version 1.
   */
  readonly invalidEntries: readonly string[];
}

// Map values are immutable JSON objects owned by their Yjs item, so a parse
// result can be cached on the object itself for as long as the item lives.
const parsedEntries = new WeakMap<object, LedgerEntry | null>();

/** Parses a raw ledger value; `null` when it does not match the schema. */
export function parseLedgerEntry(raw: unknown): LedgerEntry | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const cached = parsedEntries.get(raw);
  if (cached !== undefined) return cached;
  const result = LedgerEntrySchema.safeParse(raw);
  const parsed = result.success ? result.data : null;
  parsedEntries.set(raw, parsed);
  return parsed;
}

/**
 * A raw ledger value read as the entry of `key`; `null` when it does not parse,
 * or when an `online:` entry holds anything but exactly its own account.
 */
function parseEntryAt(key: string, raw: unknown): LedgerEntry | null {
  const entry = parseLedgerEntry(raw);
  if (entry === null || !key.startsWith('online:')) return entry;
  const accounts = Object.keys(entry);
  return accounts.length === 1 && accounts[0] === key ? entry : null;
}

/**
 * Whether a ledger key holds accounts counted in a document of `version`:
 * `store:*` in both, then `hub` in version 1 or `online:<location>` in version 2.
 */
export function isCountedKey(key: string, version: SchemaVersion): boolean {
  if (key.startsWith('store:')) return true;
  return version === 1 ? key === 'hub' : parseAccountId(key)?.kind === 'online';
}

export function ledgerOf(doc: Y.Doc): Y.Map<unknown> {
  return doc.getMap(LEDGER_MAP);
}

/** The current entry of one writer, or an empty entry when it has none (or an invalid one). */
export function readEntry(doc: Y.Doc, key: WriterKey): LedgerEntry {
  return parseEntryAt(key, ledgerOf(doc).get(key)) ?? {};
}

/**
 * The state one account's owner has written, or all zeros. `owner` may name the
 * account's owner as either version does (`hub` or `online:<location>` for an
 * online account): the account is read where the document's version keeps it,
 * so a caller written for version 1 reads a version 2 document right.
 */
export function readAccount(doc: Y.Doc, owner: WriterKey, account: AccountId): AccountState {
  if (parseAccountId(account) === null || (owner !== accountOwner(account, 1) && owner !== accountOwner(account, 2))) {
    return readEntry(doc, owner)[account] ?? EMPTY_ACCOUNT;
  }
  return accountState(doc, account);
}

/** The state of one account, from its owner's entry as the document's version places it, or all zeros. */
export function accountState(doc: Y.Doc, account: AccountId): AccountState {
  return readEntry(doc, accountOwner(account, schemaVersion(doc)))[account] ?? EMPTY_ACCOUNT;
}

interface MutableTotals {
  p: number;
  n: number;
  received: number;
  given: number;
  reserved: number;
  settled: number;
  overridden: number;
  covered: number;
}

/** Derives every account's rights and every location's stock from a SKU document. */
export function computeStock(doc: Y.Doc): StockView {
  const totals = new Map<AccountId, MutableTotals>();
  const invalidEntries: string[] = [];
  const totalsOf = (account: AccountId): MutableTotals => {
    let entry = totals.get(account);
    if (entry === undefined) {
      entry = { p: 0, n: 0, received: 0, given: 0, reserved: 0, settled: 0, overridden: 0, covered: 0 };
      totals.set(account, entry);
    }
    return entry;
  };
  const version = schemaVersion(doc);
  for (const [key, raw] of ledgerOf(doc).entries()) {
    // Version 2 keeps `hub` for stores that read version 1; its accounts are counted from their own entries.
    if (version === 2 && key === 'hub') continue;
    const entry = isCountedKey(key, version) ? parseEntryAt(key, raw) : null;
    if (entry === null) {
      invalidEntries.push(key);
      continue;
    }
    for (const [account, state] of Object.entries(entry) as [AccountId, AccountState][]) {
      const own = totalsOf(account);
      own.p += state.p;
      own.n += state.n;
      own.reserved += state.reserved;
      own.settled += state.settled;
      own.overridden += state.o ?? 0;
      own.covered += state.c ?? 0;
      for (const [to, quantity] of Object.entries(state.t) as [AccountId, number][]) {
        own.given += quantity;
        totalsOf(to).received += quantity;
      }
    }
  }

  let added = 0;
  let committed = 0;
  const accounts: Record<string, AccountTotals> = {};
  const locations = new Map<string, { posRights: number; onlineRights: number; outstandingReservations: number }>();
  for (const [account, t] of [...totals].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    added += t.p;
    committed += t.n;
    const rights = t.p - t.n + t.received - t.given;
    const outstanding = t.reserved - t.settled;
    accounts[account] = { account, ...t, rights, outstanding };
    const parsed = parseAccountId(account);
    if (parsed === null) continue;
    let location = locations.get(parsed.location);
    if (location === undefined) {
      location = { posRights: 0, onlineRights: 0, outstandingReservations: 0 };
      locations.set(parsed.location, location);
    }
    if (parsed.kind === 'store') location.posRights += rights;
    else location.onlineRights += rights;
    location.outstandingReservations += outstanding;
  }
  const locationView: Record<string, LocationStock> = {};
  for (const [location, l] of locations) {
    const deficit = Math.max(0, -l.posRights);
    locationView[location] = {
      location,
      ...l,
      onShelf: l.posRights + l.onlineRights + l.outstandingReservations,
      deficit,
      reservationsAtRisk: Math.min(deficit, l.outstandingReservations),
      reservable: Math.max(0, l.onlineRights - deficit),
    };
  }
  return { value: added - committed, added, committed, accounts, locations: locationView, invalidEntries };
}

/**
 * Rights of one account: p - n + Σ received - Σ given. Rights move only between
 * the two accounts of one store (see isAllowedTransfer, enforced on every
 * operation and every incoming update), so only the account's own entry and its
 * counterpart's are read: the sale path does not grow with the number of stores.
 * `replace` reads one writer's entry as given instead of as held, to judge an
 * entry before it is written.
 */
export function rightsOf(doc: Y.Doc, account: AccountId, replace?: { key: WriterKey; entry: LedgerEntry }): number {
  const parsed = parseAccountId(account);
  if (parsed === null) return 0;
  const version = schemaVersion(doc);
  const entryOf = (key: WriterKey): LedgerEntry => (key === replace?.key ? replace.entry : readEntry(doc, key));
  const own = entryOf(accountOwner(account, version))[account] ?? EMPTY_ACCOUNT;
  let rights = own.p - own.n;
  for (const quantity of Object.values(own.t)) rights -= quantity;
  if (parsed.location !== CENTRAL_LOCATION) {
    const counterpart = `${parsed.kind === 'store' ? 'online' : 'store'}:${parsed.location}` as AccountId;
    rights += entryOf(accountOwner(counterpart, version))[counterpart]?.t[account] ?? 0;
  }
  return rights;
}

/**
 * How far below zero a store account's rights may go: its override total `o`
 * less what the hub has settled of it (`c` of the store's online account).
 * Zero for every account that never used the manager override. `replace` as in
 * rightsOf.
 */
export function deficitAllowance(
  doc: Y.Doc,
  account: AccountId,
  replace?: { key: WriterKey; entry: LedgerEntry },
): number {
  const parsed = parseAccountId(account);
  if (parsed === null || parsed.kind !== 'store') return 0;
  const version = schemaVersion(doc);
  const entryOf = (key: WriterKey): LedgerEntry => (key === replace?.key ? replace.entry : readEntry(doc, key));
  const online = `online:${parsed.location}` as AccountId;
  const overridden = entryOf(accountOwner(account, version))[account]?.o ?? 0;
  const covered = entryOf(accountOwner(online, version))[online]?.c ?? 0;
  return overridden - covered;
}

/**
 * Online rights a reservation may take from an online account: its rights, less
 * what the store's manager-override deficit will take from them once settled (the
 * units it stands for have already left the shelf). Reads two entries, as rightsOf.
 */
export function reservableRights(doc: Y.Doc, account: AccountId): number {
  const parsed = parseAccountId(account);
  const rights = rightsOf(doc, account);
  if (parsed === null || parsed.kind !== 'online' || parsed.location === CENTRAL_LOCATION) return rights;
  const deficit = Math.max(0, -rightsOf(doc, `store:${parsed.location}` as AccountId));
  return Math.max(0, rights - deficit);
}

/** A store account's unsettled override deficit (o - c) from a derived view; 0 for other accounts. */
export function owedUnderOverride(view: StockView, account: string): number {
  const parsed = parseAccountId(account);
  if (parsed === null || parsed.kind !== 'store') return 0;
  return (view.accounts[account]?.overridden ?? 0) - (view.accounts[`online:${parsed.location}`]?.covered ?? 0);
}
