import { z } from 'zod';
import { parseAccountId, type AccountId, type CENTRAL_LOCATION, type StoreId } from './ids.js';

/**
 * The version of a SKU document's schema (docs/crdt.md). 1: the hub writes every
 * online account in one ledger entry `hub`. 2: each online account is an entry of
 * its own, written by the hub under a Yjs client id of its own.
 */
export type SchemaVersion = 1 | 2;

/**
 * Who wrote an update. A store writes only its own `store:` account; the hub
 * writes every `online:` account and the document metadata. In a version 2
 * document the hub writes each online account (`online`) and the metadata
 * (`meta`) as a writer of its own, one Yjs client id each.
 */
export type Writer =
  | { readonly kind: 'store'; readonly storeId: StoreId }
  | { readonly kind: 'hub' }
  | { readonly kind: 'online'; readonly location: StoreId | typeof CENTRAL_LOCATION }
  | { readonly kind: 'meta' };

/**
 * The key a writer's entry has: `store:<storeId>` or `hub` in the ledger map;
 * in version 2 also `online:<location>` (one ledger entry per online account)
 * and `meta` (the metadata map).
 */
export type WriterKey = `store:${string}` | 'hub' | `online:${string}` | 'meta';

/**
 * A writer key as stored (the hub's client-id registry): `hub`, `meta`, or an
 * account id (`store:<storeId>`, `online:<location>`), which is its own writer's key.
 */
export const WriterKeySchema = z
  .string()
  .refine((value) => value === 'hub' || value === 'meta' || parseAccountId(value) !== null, {
    message: 'writer: "hub", "meta", "store:<storeId>", "online:<storeId>" or "online:dc"',
  })
  .transform((value) => value as WriterKey);

export const HUB_WRITER: Writer = { kind: 'hub' };

/** The hub's writer of the document metadata (version 2). */
export const META_WRITER: Writer = { kind: 'meta' };

export function storeWriter(storeId: StoreId): Writer {
  return { kind: 'store', storeId };
}

/** The hub's writer of one online account (version 2): a store's, or `dc` for the warehouse. */
export function onlineWriter(location: StoreId | typeof CENTRAL_LOCATION): Writer {
  return { kind: 'online', location };
}

export function writerKey(writer: Writer): WriterKey {
  switch (writer.kind) {
    case 'store':
      return `store:${writer.storeId}`;
    case 'hub':
      return 'hub';
    case 'online':
      return `online:${writer.location}`;
    case 'meta':
      return 'meta';
  }
}

/**
 * The writer key that owns an account, in a document of `version` (default 1):
 * `store:X` owns itself in both; an `online:` account is owned by `hub` in
 * version 1 and by itself in version 2.
 */
export function accountOwner(account: AccountId, version: SchemaVersion = 1): WriterKey {
  const parsed = parseAccountId(account);
  if (parsed === null) throw new TypeError(`not an account id: ${account}`);
  if (parsed.kind === 'store') return `store:${parsed.location}`;
  return version === 1 ? 'hub' : `online:${parsed.location}`;
}

/**
 * Whether `writer` may change `account`, in any version: a store its own
 * `store:` account, the hub every `online:` account, an online writer its own.
 */
export function ownsAccount(writer: Writer, account: AccountId): boolean {
  const owner = accountOwner(account, 2);
  switch (writer.kind) {
    case 'store':
    case 'online':
      return owner === writerKey(writer);
    case 'hub':
      return owner.startsWith('online:');
    case 'meta':
      return false;
  }
}

/**
 * Whether `writer` may write the entry `key` (a ledger key, or `meta` for the
 * metadata map) of a document of `version`. Version 1: a store its own key, the
 * hub `hub` and `meta`. Version 2: a store its own key, the hub every
 * `online:<location>` and `meta`, an online or meta writer its own key; no
 * operation writes `hub`: the hub keeps it as a copy for stores that read only
 * version 1 (`mirrorVersion1`).
 */
export function ownsKey(writer: Writer, key: string, version: SchemaVersion): boolean {
  switch (writer.kind) {
    case 'store':
      return key === writerKey(writer);
    case 'hub':
      if (key === 'meta') return true;
      if (version === 1) return key === 'hub';
      return parseAccountId(key)?.kind === 'online';
    case 'online':
    case 'meta':
      return version === 2 && key === writerKey(writer);
  }
}
