import {
  ErrorCode,
  fail,
  ok,
  parseAccountId,
  type AccountId,
  type Result,
  type Sku,
  type WriterKey,
} from '@shelfsync/protocol';
import * as Y from 'yjs';
import { ledgerOf, parseLedgerEntry, readEntry } from './ledger.js';
import { META_MAP, SCHEMA_VERSION_2, type AccountState, type LedgerEntry } from './schema.js';
import { schemaVersion, transactAs, type WriterClients } from './version.js';

/** What a migration wrote: the online accounts that became entries of their own. */
export interface Migration {
  readonly accounts: readonly AccountId[];
}

/**
 * Moves a version 1 document to version 2, as the hub: each online account of
 * the `hub` entry becomes an entry of its own (`online:<location>`, holding that
 * one account) written under `clients.idFor` of its key, then `meta` gets
 * `schema: 2` and `sku` under `meta`'s id. The `hub` entry stays as it was, for
 * stores that still read version 1: version 2 readers skip it.
 *
 * All of it is one transaction, so one update: a replica never holds
 * `meta.schema = 2` without the entries that replace `hub`. Writes nothing and
 * returns a coded refusal when the document is version 2 already (so a second
 * call changes nothing), holds an `online:` entry, counts another SKU, or its
 * `hub` entry does not parse (VALIDATION_FAILED), or when an id is the neutral
 * one, is given to two keys, or already wrote in this document
 * (UPDATE_CLIENT_ID_TAKEN). Never throws on what the document holds.
 */
export function migrateToV2(doc: Y.Doc, sku: Sku, clients: WriterClients, origin: unknown = null): Result<Migration> {
  const refuse = (path: string, message: string): Result<never> =>
    fail(ErrorCode.ValidationFailed, `not migrated to schema version 2: ${message}`, { issues: [{ path, message }] });
  if (schemaVersion(doc) === 2) return refuse('meta.schema', 'the document is version 2 already');
  const ledger = ledgerOf(doc);
  for (const key of ledger.keys()) {
    if (key.startsWith('online:')) return refuse(`ledger.${key}`, `the document holds an entry ${key} already`);
  }
  const meta = doc.getMap(META_MAP);
  const heldSku: unknown = meta.get('sku');
  if (heldSku !== undefined && heldSku !== sku) {
    return refuse('meta.sku', `the document counts ${JSON.stringify(heldSku)}, not ${sku}`);
  }
  const raw: unknown = ledger.get('hub');
  const entry: LedgerEntry | null = raw === undefined ? {} : parseLedgerEntry(raw);
  if (entry === null) return refuse('ledger.hub', 'the hub entry does not match the schema');
  const accounts = (Object.keys(entry) as AccountId[]).sort();
  for (const account of accounts) {
    if (parseAccountId(account)?.kind !== 'online') return refuse('ledger.hub', `the hub entry holds ${account}`);
  }

  const plan: { key: WriterKey; client: number }[] = [];
  const used = new Set([clients.neutral]);
  for (const key of [...(accounts as `online:${string}`[]), 'meta' as const]) {
    const client = clients.idFor(key);
    // Fresh ids only: an id writes one key for its whole life, and none of these keys is in the document yet.
    if (used.has(client) || Y.getState(doc.store, client) > 0) {
      return fail(ErrorCode.UpdateClientIdTaken, `client id ${client} may not write ${key}`, { client });
    }
    used.add(client);
    plan.push({ key, client });
  }

  try {
    doc.transact(() => {
      for (const { key, client } of plan) {
        // Yjs gives each item the id doc.clientID holds when it is created: one transaction, several writers.
        doc.clientID = client;
        if (key === 'meta') {
          meta.set('schema', SCHEMA_VERSION_2);
          meta.set('sku', sku);
        } else {
          const account = key as AccountId;
          ledger.set(key, { [account]: entry[account] });
        }
      }
    }, origin);
  } finally {
    doc.clientID = clients.neutral;
  }
  return ok({ accounts });
}

/**
 * Brings the `hub` entry of a version 2 document up to its online accounts, as
 * version 1 keeps them (one entry holding every online account), written under
 * `clients.idFor('hub')`, the id that always wrote it. Stores that read only
 * version 1 read their grants there while the hub still serves them (ADR 0021);
 * version 2 readers skip it. Writes nothing, and returns false, for a version 1
 * document or a copy already current.
 */
export function mirrorVersion1(doc: Y.Doc, clients: WriterClients, origin: unknown = null): boolean {
  if (schemaVersion(doc) !== 2) return false;
  const ledger = ledgerOf(doc);
  const mirror: Record<AccountId, AccountState> = {};
  for (const key of [...ledger.keys()].sort()) {
    if (parseAccountId(key)?.kind !== 'online') continue;
    const state = readEntry(doc, key as `online:${string}`)[key as AccountId];
    if (state !== undefined) mirror[key as AccountId] = state;
  }
  if (canonical(parseLedgerEntry(ledger.get('hub')) ?? {}) === canonical(mirror)) return false;
  transactAs(doc, clients.idFor('hub'), clients.neutral, () => ledger.set('hub', mirror), origin);
  return true;
}

/** JSON with keys sorted at every level: two entries holding the same totals compare equal. */
function canonical(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonical(record[key])}`)
    .join(',')}}`;
}
