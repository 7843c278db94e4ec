import { AccountIdSchema, SkuSchema, type AccountId } from '@shelfsync/protocol';
import { z } from 'zod';

/**
 * The document schema, versions 1 and 2. See docs/crdt.md for the prose version.
 *
 * A SKU document has exactly two top-level shared types, both Y.Map:
 * - `ledger`: one entry per writer (`store:<id>` or `hub`), whose value is a
 *   plain JSON object mapping each account the writer owns to its totals. In
 *   version 2 each online account is a writer of its own (`online:<location>`,
 *   an entry holding that one account) and `hub` is a copy for stores that
 *   read only version 1, kept current while one is connected.
 * - `meta`: document metadata, written only by the hub; `meta.schema === 2`
 *   makes a document version 2 (version 1 documents have no `meta` at all).
 *
 * One key per writer, rewritten whole by every operation, keeps the document
 * bounded: Yjs merges a run of overwritten values of one key by one client into
 * a single deleted struct, so the encoded size follows writers, not operations.
 */
export const LEDGER_MAP = 'ledger';
export const META_MAP = 'meta';
/** The version documents are written in unless the hub migrates them (migrateToV2). */
export const SCHEMA_VERSION = 1;
/** The version with one ledger entry per online account. */
export const SCHEMA_VERSION_2 = 2;

/** A cumulative, monotonic total: a non-negative safe integer. */
export const TotalSchema = z.int().min(0);

/**
 * The totals of one account. Every field is cumulative and only ever grows.
 * - `p`: units added (receipts, returns, cancelled reservations, count surplus)
 * - `n`: units committed (sales, shrink, shipments out, reservations)
 * - `t`: rights given to another account, by receiving account
 * - `reserved`: units ever put on hold for online reservations (also counted in `n`)
 * - `settled`: reserved units whose hold ended (picked up, shipped or cancelled)
 * - `o` (store accounts only, absent = 0): units sold under the manager override
 *   beyond the account's rights, the deficit the store has run up
 * - `c` (online accounts of a store only, absent = 0): units of that store's
 *   deficit the hub has settled (covered with online rights, or seen repaid)
 *
 * `o` and `c` are optional so that documents written before the override, and
 * every account that never uses it, keep exactly their old encoding.
 */
export const AccountStateSchema = z.strictObject({
  p: TotalSchema,
  n: TotalSchema,
  t: z.record(AccountIdSchema, TotalSchema),
  reserved: TotalSchema,
  settled: TotalSchema,
  o: TotalSchema.optional(),
  c: TotalSchema.optional(),
});
export type AccountState = z.infer<typeof AccountStateSchema>;

/** The value of one ledger entry: the accounts of one writer. */
export const LedgerEntrySchema = z.record(AccountIdSchema, AccountStateSchema);
export type LedgerEntry = Readonly<Record<AccountId, AccountState>>;

/** Each `meta` key and the schema of its value. */
export const metaValueSchemas = {
  schema: z.union([z.literal(SCHEMA_VERSION), z.literal(SCHEMA_VERSION_2)]),
  sku: SkuSchema,
  title: z.string().max(200),
} as const;
export type MetaKey = keyof typeof metaValueSchemas;

export function isMetaKey(key: string): key is MetaKey {
  return Object.hasOwn(metaValueSchemas, key);
}

export const EMPTY_ACCOUNT: AccountState = Object.freeze({ p: 0, n: 0, t: Object.freeze({}), reserved: 0, settled: 0 });
