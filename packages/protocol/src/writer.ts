import { parseAccountId, type AccountId, type StoreId } from './ids.js';

/**
 * Who wrote an update. A store writes only its own `store:` account; the hub
 * writes every `online:` account and the document metadata.
 */
export type Writer = { readonly kind: 'store'; readonly storeId: StoreId } | { readonly kind: 'hub' };

/** The key a writer's entry has in the ledger map: `store:<storeId>` or `hub`. */
export type WriterKey = `store:${string}` | 'hub';

export const HUB_WRITER: Writer = { kind: 'hub' };

export function storeWriter(storeId: StoreId): Writer {
  return { kind: 'store', storeId };
}

export function writerKey(writer: Writer): WriterKey {
  return writer.kind === 'hub' ? 'hub' : `store:${writer.storeId}`;
}

/** The writer key that owns an account: `store:X` owns itself, the hub owns every `online:` account. */
export function accountOwner(account: AccountId): WriterKey {
  const parsed = parseAccountId(account);
  if (parsed === null) throw new TypeError(`not an account id: ${account}`);
  return parsed.kind === 'store' ? `store:${parsed.location}` : 'hub';
}

export function ownsAccount(writer: Writer, account: AccountId): boolean {
  return accountOwner(account) === writerKey(writer);
}
