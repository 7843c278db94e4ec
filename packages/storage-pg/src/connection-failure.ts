import pg from 'pg';

/** Socket errors of a database that is down or cut off. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTCONN', 'EHOSTUNREACH']);

/**
 * pg reports a connection lost mid-query, and a pool that could not connect in
 * time, with a message only (no code); these are pg's own wordings.
 */
const LOST_CONNECTION =
  /^Connection terminated|^timeout exceeded when trying to connect|^Client has encountered a connection error/;

/**
 * Whether `error` (or an error it wraps) says PostgreSQL could not be reached
 * or the connection was lost, as opposed to the server refusing a statement:
 * the caller may answer "unavailable, retry" rather than fail as a bug. Server
 * errors of class 08 (connection exception) and 57P (shutting down) count too.
 */
export function isConnectionFailure(error: unknown): error is Error {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    if (current instanceof pg.DatabaseError) return /^(08|57P)/.test(current.code ?? '');
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && SOCKET_CODES.has(code)) return true;
    if (LOST_CONNECTION.test(current.message)) return true;
    current = current.cause;
  }
  return false;
}
