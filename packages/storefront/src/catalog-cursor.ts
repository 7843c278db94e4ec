import { ErrorCode, ShelfsyncFailure, SkuSchema, shelfsyncError, type Sku } from '@shelfsync/protocol';

/** The cursor of a catalog page: the last SKU it examined, base64url (UTF-8, unpadded). */
export function encodeCursor(after: Sku): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(after)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * The SKU a cursor continues after. Decodes as leniently as Node's base64url
 * did when cursors were first given out (a lone trailing character is ignored),
 * so a cursor a client holds keeps working. Throws VALIDATION_FAILED for one
 * that does not name a SKU.
 */
export function decodeCursor(cursor: string): Sku {
  const usable = cursor.length % 4 === 1 ? cursor.slice(0, -1) : cursor;
  let text: string | null = null;
  if (/^[A-Za-z0-9_-]*$/.test(usable)) {
    const binary = atob(usable.replace(/-/g, '+').replace(/_/g, '/'));
    text = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  }
  const decoded = SkuSchema.safeParse(text);
  if (!decoded.success) {
    throw new ShelfsyncFailure(
      shelfsyncError(ErrorCode.ValidationFailed, 'query.cursor: not a cursor this hub gave out'),
    );
  }
  return decoded.data;
}
