import {
  STORE_TOKEN_PREFIX,
  readStoreTokenClaims,
  type KeyId,
  type StoreId,
  type StoreTokenClaims,
} from '@shelfsync/protocol';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The shortest secret the hub accepts: 16 characters. */
export const MIN_SECRET_LENGTH = 16;

/** A store token lives 30 days unless `shelfsync token --ttl` says otherwise. */
export const DEFAULT_TOKEN_TTL_MS = 30 * 86_400_000;

/**
 * The key id of a secret: its fingerprint (`k` + 16 base64url characters of its
 * SHA-256), so whoever holds the secret names the same key as the hub without
 * asking it, and the id reveals nothing usable about the secret.
 */
export function keyIdOf(secret: string): KeyId {
  return `k${createHash('sha256').update(`shelfsync-key:${secret}`).digest('base64url').slice(0, 16)}`;
}

/**
 * A store token: `ss2.<payload>.<signature>`, the payload `{sub, kid, iat, exp}`
 * (seconds since the epoch, ms precision), signed with HMAC-SHA256 under
 * `secret`. It binds a connection to one store, so a token for store A can never
 * write B's account, and it stops working at `exp`.
 */
export function signStoreToken(
  storeId: StoreId,
  secret: string,
  options: { ttlMs?: number; now?: number } = {},
): string {
  const now = options.now ?? Date.now();
  const claims = {
    sub: storeId,
    kid: keyIdOf(secret),
    iat: now / 1000,
    exp: (now + (options.ttlMs ?? DEFAULT_TOKEN_TTL_MS)) / 1000,
  } satisfies StoreTokenClaims;
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${STORE_TOKEN_PREFIX}.${payload}.${signature(payload, secret)}`;
}

/** A key of the set as verification sees it: its secret while active; undefined for a key the hub does not know. */
export type KeyLookup = { state: 'active'; secret: string } | { state: 'retired' } | undefined;

/** Why the hub refused a token; `legacy` is an `ss1` token (no expiry, no key id). */
export type TokenRefusal = 'malformed' | 'legacy' | 'unknown-key' | 'retired-key' | 'bad-signature' | 'expired';

/**
 * A token's claims once its signature checks under the key it names (looked up
 * by `secretOf`, which answers `retired` for a key taken out of service) and it
 * has not expired at `nowMs`. Never throws, whatever the input.
 */
export function verifyStoreToken(
  token: string,
  secretOf: (kid: KeyId) => KeyLookup,
  nowMs: number = Date.now(),
): { ok: true; claims: StoreTokenClaims } | { ok: false; reason: TokenRefusal } {
  const read = readStoreTokenClaims(token);
  if (!read.ok) return read;
  const key = secretOf(read.claims.kid);
  if (key === undefined) return { ok: false, reason: 'unknown-key' };
  if (key.state === 'retired') return { ok: false, reason: 'retired-key' };
  const { secret } = key;
  const [, payload = '', given = ''] = token.trim().split('.');
  const expected = Buffer.from(signature(payload, secret));
  const actual = Buffer.from(given);
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    return { ok: false, reason: 'bad-signature' };
  }
  if (read.claims.exp * 1000 <= nowMs) return { ok: false, reason: 'expired' };
  return read;
}

function signature(payload: string, secret: string): string {
  return createHmac('sha256', secret).update(`${STORE_TOKEN_PREFIX}.${payload}`).digest('base64url');
}
