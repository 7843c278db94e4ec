import { z } from 'zod';

/** The location name of the central warehouse, used in `online:dc`. */
export const CENTRAL_LOCATION = 'dc';

// Store ids and SKUs share one format, part of the public contract.
const idPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * A store's id: letters, digits, `.`, `_` and `-`, 1 to 64 characters, starting
 * alphanumeric (the same format as a SKU). `dc` is reserved, because `online:dc`
 * names the central warehouse account.
 */
export const StoreIdSchema = z
  .string()
  .regex(idPattern, 'store id: A-Z, a-z, 0-9, ".", "_" and "-", 1-64 chars, starting alphanumeric')
  .refine((id) => id !== CENTRAL_LOCATION, { message: `store id "${CENTRAL_LOCATION}" is reserved` })
  .brand<'StoreId'>();
export type StoreId = z.infer<typeof StoreIdSchema>;

/** A stock keeping unit: letters, digits, `.`, `_` and `-`, 1 to 64 characters, starting alphanumeric. */
export const SkuSchema = z
  .string()
  .regex(idPattern, 'sku: A-Z, a-z, 0-9, ".", "_" and "-", 1-64 chars, starting alphanumeric')
  .brand<'Sku'>();
export type Sku = z.infer<typeof SkuSchema>;

/**
 * An account is a location that can hold stock rights:
 * `store:<storeId>` (a store's point of sale), `online:<storeId>` (units at that
 * store escrowed for online orders) or `online:dc` (central warehouse stock).
 */
export const AccountIdSchema = z
  .string()
  .refine((value) => parseAccountId(value) !== null, {
    message: 'account: "store:<storeId>", "online:<storeId>" or "online:dc"',
  })
  .brand<'AccountId'>();
export type AccountId = z.infer<typeof AccountIdSchema>;

/** Which side of a location an account belongs to. */
export type AccountKind = 'store' | 'online';

/** An account id taken apart. `location` is a store id, or `dc` for the central warehouse. */
export interface ParsedAccountId {
  readonly kind: AccountKind;
  readonly location: string;
}

/** Parses an account id without throwing; `null` when it is not one. */
export function parseAccountId(value: string): ParsedAccountId | null {
  const colon = value.indexOf(':');
  if (colon < 0) return null;
  const kind = value.slice(0, colon);
  const location = value.slice(colon + 1);
  if (kind === 'online' && location === CENTRAL_LOCATION) return { kind, location };
  if ((kind === 'store' || kind === 'online') && location !== CENTRAL_LOCATION && idPattern.test(location)) {
    return { kind, location };
  }
  return null;
}

/** The point-of-sale account of a store. */
export function storeAccount(storeId: StoreId): AccountId {
  return `store:${storeId}` as AccountId;
}

/** The online-escrow account of a store, or of the central warehouse for `dc`. */
export function onlineAccount(location: StoreId | typeof CENTRAL_LOCATION): AccountId {
  return `online:${location}` as AccountId;
}

/** The online account of the central warehouse. */
export const CENTRAL_ACCOUNT = onlineAccount(CENTRAL_LOCATION);
