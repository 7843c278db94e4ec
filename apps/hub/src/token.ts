import { StoreIdSchema, type StoreId } from '@shelfsync/protocol';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

const PREFIX = 'ss1';
const PayloadSchema = z.strictObject({ sub: StoreIdSchema, iat: z.int().min(0) });

/** The shortest secret the hub accepts: 16 characters. */
export const MIN_SECRET_LENGTH = 16;

/**
 * A store token: `ss1.<payload>.<signature>`, the payload base64url JSON
 * `{ sub: storeId, iat }`, signed with HMAC-SHA256 under the hub's secret. It binds
 * a connection to one store, so a token for store A can never write B's account.
 */
export function signStoreToken(storeId: StoreId, secret: string, issuedAt = Math.floor(Date.now() / 1000)): string {
  const payload = Buffer.from(JSON.stringify({ sub: storeId, iat: issuedAt })).toString('base64url');
  return `${PREFIX}.${payload}.${signature(payload, secret)}`;
}

/** The store a token was issued to, or null for anything forged, malformed or signed with another secret. */
export function verifyStoreToken(token: string, secret: string): StoreId | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== PREFIX) return null;
  const [, payload = '', given = ''] = parts;
  const expected = Buffer.from(signature(payload, secret));
  const actual = Buffer.from(given);
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return null;
  try {
    const parsed = PayloadSchema.safeParse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data.sub : null;
  } catch {
    return null;
  }
}

function signature(payload: string, secret: string): string {
  return createHmac('sha256', secret).update(`${PREFIX}.${payload}`).digest('base64url');
}
