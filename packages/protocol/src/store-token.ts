import { z } from 'zod';
import { StoreIdSchema } from './ids.js';

/**
 * Store tokens: `ss2.<payload>.<signature>`, the payload base64url JSON
 * {@link StoreTokenClaims}, the signature HMAC-SHA256 over `ss2.<payload>` under
 * the hub key named by `kid`. The hub signs and verifies (apps/hub); this module
 * only names the format, so a store can read its own token's expiry without the
 * key. `ss1` tokens (no expiry, no key id) are refused by the hub.
 */
export const STORE_TOKEN_PREFIX = 'ss2';
export const LEGACY_STORE_TOKEN_PREFIX = 'ss1';

/** A key id: what names one secret of the hub's key set (its fingerprint, `k` + 16 base64url characters). */
export const KeyIdSchema = z.string().regex(/^k[A-Za-z0-9_-]{16}$/, 'a key id such as kAbCdEfGh01234567');
export type KeyId = z.infer<typeof KeyIdSchema>;

/** NumericDate as in RFC 7519: seconds since the epoch, fractions allowed (so revocation is exact to the ms). */
const NumericDate = z.number().min(0).max(32_503_680_000);

export const StoreTokenClaimsSchema = z
  .strictObject({
    /** The store the token binds a connection to. */
    sub: StoreIdSchema,
    /** The key that signed it. */
    kid: KeyIdSchema,
    /** Issued at. */
    iat: NumericDate,
    /** Expires at: the hub refuses it from then on, and closes a session using it then. */
    exp: NumericDate,
  })
  .refine((claims) => claims.exp > claims.iat, 'exp must be after iat');
export type StoreTokenClaims = z.infer<typeof StoreTokenClaimsSchema>;

/** Why a token was read as it was: `legacy` is an `ss1` token, which carries no expiry. */
export type StoreTokenFormat = { ok: true; claims: StoreTokenClaims } | { ok: false; reason: 'malformed' | 'legacy' };

/**
 * The claims of a token, unverified (the signature is the hub's business): a
 * store reads its own expiry with it. Never throws, whatever the input.
 */
export function readStoreTokenClaims(token: string): StoreTokenFormat {
  const parts = token.trim().split('.');
  if (parts.length !== 3) return { ok: false, reason: 'malformed' };
  if (parts[0] === LEGACY_STORE_TOKEN_PREFIX) return { ok: false, reason: 'legacy' };
  if (parts[0] !== STORE_TOKEN_PREFIX || !/^[A-Za-z0-9_-]{1,2048}$/.test(parts[1] ?? '')) {
    return { ok: false, reason: 'malformed' };
  }
  try {
    const json = new TextDecoder('utf-8', { fatal: true }).decode(base64UrlBytes(parts[1] ?? ''));
    const parsed = StoreTokenClaimsSchema.safeParse(JSON.parse(json));
    return parsed.success ? { ok: true, claims: parsed.data } : { ok: false, reason: 'malformed' };
  } catch {
    return { ok: false, reason: 'malformed' };
  }
}

function base64UrlBytes(text: string): Uint8Array {
  const binary = atob(
    text
      .replace(/-/g, '+')
      .replace(/_/g, '/')
      .padEnd(Math.ceil(text.length / 4) * 4, '='),
  );
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** The longest token lifetime `shelfsync token --ttl` issues: a token that outlives a year is a password. */
export const MAX_TOKEN_TTL_MS = 366 * UNIT_MS.d;

/**
 * A duration such as `90d`, `12h`, `1h30m`, `45s`, in ms; null for anything
 * else (no unit, zero, a unit twice out of order). Never throws.
 */
export function parseDuration(text: string): number | null {
  const match = /^(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,6})s)?$/.exec(text.trim());
  if (match === null || text.trim() === '') return null;
  const [, d = '0', h = '0', m = '0', s = '0'] = match;
  const ms = Number(d) * UNIT_MS.d + Number(h) * UNIT_MS.h + Number(m) * UNIT_MS.m + Number(s) * UNIT_MS.s;
  return ms > 0 ? ms : null;
}
