import { z } from 'zod';
import type { ErrorDetails, ErrorDetailsArg } from './error-details.js';
import { RecoverySchema, type Recovery } from './recovery.js';

/**
 * Every error shelfsync reports, as string constants. One union for the whole
 * system so logs, metrics, HTTP bodies and WebSocket errors speak the same words.
 */
export const ErrorCode = {
  /** Input failed schema validation. */
  ValidationFailed: 'VALIDATION_FAILED',
  /** The account does not hold enough rights for a decrement or a transfer. */
  InsufficientRights: 'INSUFFICIENT_RIGHTS',
  /** No location holds enough online rights for a reservation. */
  InsufficientStock: 'INSUFFICIENT_STOCK',
  /** A sale under the manager override would take the store's deficit past its cap (0: the override is off). */
  OverrideCapExceeded: 'OVERRIDE_CAP_EXCEEDED',
  /** The reservation was already confirmed, cancelled or expired. */
  ReservationClosed: 'RESERVATION_CLOSED',
  /** Cancelling or settling more reserved units than are outstanding. */
  InsufficientReservation: 'INSUFFICIENT_RESERVATION',
  /** The writer tried to change an account or key it does not own. */
  NotOwner: 'NOT_OWNER',
  /** Rights may only move between the two accounts of one location. */
  InvalidTransfer: 'INVALID_TRANSFER',
  /** A cumulative total would pass Number.MAX_SAFE_INTEGER. */
  CounterOverflow: 'COUNTER_OVERFLOW',
  /** An incoming update could not be decoded or applied. */
  UpdateMalformed: 'UPDATE_MALFORMED',
  /** An incoming update is larger than the receiver accepts. */
  UpdateTooLarge: 'UPDATE_TOO_LARGE',
  /** An incoming update depends on operations the receiver has not seen. */
  UpdateMissingDependency: 'UPDATE_MISSING_DEPENDENCY',
  /** An incoming update writes or deletes another writer's entries. */
  UpdateForeignEntry: 'UPDATE_FOREIGN_ENTRY',
  /** An incoming update adds a shared type, key or struct the schema does not have. */
  UpdateUnexpectedType: 'UPDATE_UNEXPECTED_TYPE',
  /** An incoming update writes a value that does not match the document schema. */
  UpdateInvalidValue: 'UPDATE_INVALID_VALUE',
  /** An incoming update lowers a cumulative total. */
  UpdateDecreasingTotal: 'UPDATE_DECREASING_TOTAL',
  /** An incoming update leaves one of the writer's accounts with negative rights. */
  UpdateOverdrawn: 'UPDATE_OVERDRAWN',
  /** An incoming update rewrites the writer's own entry without building on its latest value. */
  UpdateConcurrentEntry: 'UPDATE_CONCURRENT_ENTRY',
  /** An incoming update uses a Yjs client id that belongs to another writer. */
  UpdateClientIdTaken: 'UPDATE_CLIENT_ID_TAKEN',
  /** The resource does not exist. */
  NotFound: 'NOT_FOUND',
  /** The route exists, the method does not. */
  MethodNotAllowed: 'METHOD_NOT_ALLOWED',
  /** Missing or invalid credentials. */
  Unauthorized: 'UNAUTHORIZED',
  /** A request body above the size limit. */
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  /** A request body that is not JSON. */
  UnsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  /** Too many requests from one client; retry after the Retry-After header's seconds. */
  RateLimited: 'RATE_LIMITED',
  /** The client holds as many long-lived connections (event streams, readers) as it may, or the server does in total; retry after Retry-After. */
  TooManyConnections: 'TOO_MANY_CONNECTIONS',
  /** An Idempotency-Key reused with a different request. */
  IdempotencyKeyReused: 'IDEMPOTENCY_KEY_REUSED',
  /** A store replica whose data directory is new has not finished its first sync with the hub: it takes no writes yet. */
  ReplicaNotReady: 'REPLICA_NOT_READY',
  /** Local storage failed to make a write durable: the write was not recorded, and the process takes no more. */
  StorageUnavailable: 'STORAGE_UNAVAILABLE',
  /** A hub node could not write the SKU now (another node wrote first, its lease on the SKU moved, its database did not take the commit, or did not answer when the SKU was read); retry with the same Idempotency-Key. */
  WriteConflict: 'WRITE_CONFLICT',
  /** The fault proxy registered for a store's link did not answer (it is not running, or not at that address). */
  FaultProxyUnavailable: 'FAULT_PROXY_UNAVAILABLE',
  /** An unexpected failure; what happened stays in the server log. */
  Internal: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The HTTP status each error code answers with. Complete by type: a new code must be placed here. */
export const httpStatusByCode: Readonly<Record<ErrorCode, number>> = {
  VALIDATION_FAILED: 400,
  INSUFFICIENT_RIGHTS: 409,
  INSUFFICIENT_RESERVATION: 409,
  INSUFFICIENT_STOCK: 409,
  RESERVATION_CLOSED: 409,
  OVERRIDE_CAP_EXCEEDED: 409,
  NOT_OWNER: 403,
  INVALID_TRANSFER: 422,
  COUNTER_OVERFLOW: 422,
  UPDATE_MALFORMED: 400,
  UPDATE_TOO_LARGE: 413,
  UPDATE_MISSING_DEPENDENCY: 409,
  UPDATE_FOREIGN_ENTRY: 403,
  UPDATE_UNEXPECTED_TYPE: 422,
  UPDATE_INVALID_VALUE: 422,
  UPDATE_DECREASING_TOTAL: 422,
  UPDATE_OVERDRAWN: 409,
  UPDATE_CONCURRENT_ENTRY: 409,
  UPDATE_CLIENT_ID_TAKEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  UNAUTHORIZED: 401,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  TOO_MANY_CONNECTIONS: 429,
  REPLICA_NOT_READY: 503,
  STORAGE_UNAVAILABLE: 503,
  WRITE_CONFLICT: 503,
  FAULT_PROXY_UNAVAILABLE: 502,
  INTERNAL: 500,
};

/**
 * How a client recovers from each code (see Recovery). Complete by type: a new
 * code must be placed here. Refusals are stop-and-alert: the same request gets
 * the same answer until something changes, and the one who asked is told.
 */
export const recoveryByErrorCode: Readonly<Record<ErrorCode, Recovery>> = {
  VALIDATION_FAILED: 'stop-and-alert',
  // A refusal, not a fault: a connected store already asked the hub for a top-up (`details.cause` says why).
  INSUFFICIENT_RIGHTS: 'stop-and-alert',
  INSUFFICIENT_STOCK: 'stop-and-alert',
  OVERRIDE_CAP_EXCEEDED: 'stop-and-alert',
  RESERVATION_CLOSED: 'stop-and-alert',
  INSUFFICIENT_RESERVATION: 'stop-and-alert',
  // A writer touching what it does not own is a bug or an attack: retrying cannot help.
  NOT_OWNER: 'stop-and-alert',
  INVALID_TRANSFER: 'stop-and-alert',
  COUNTER_OVERFLOW: 'stop-and-alert',
  UPDATE_MALFORMED: 'stop-and-alert',
  UPDATE_TOO_LARGE: 'stop-and-alert',
  // The receiver lacks what the update builds on: exchange the SKU's difference (a step 1), which carries it.
  UPDATE_MISSING_DEPENDENCY: 'resync',
  UPDATE_FOREIGN_ENTRY: 'stop-and-alert',
  UPDATE_UNEXPECTED_TYPE: 'stop-and-alert',
  UPDATE_INVALID_VALUE: 'stop-and-alert',
  UPDATE_DECREASING_TOTAL: 'stop-and-alert',
  UPDATE_OVERDRAWN: 'stop-and-alert',
  // The hub holds a newer value of the writer's own entry: two processes for one store, or a data directory
  // restored from an older copy; a resync would not undo the change already made.
  UPDATE_CONCURRENT_ENTRY: 'stop-and-alert',
  UPDATE_CLIENT_ID_TAKEN: 'stop-and-alert',
  NOT_FOUND: 'stop-and-alert',
  METHOD_NOT_ALLOWED: 'stop-and-alert',
  UNAUTHORIZED: 'stop-and-alert',
  PAYLOAD_TOO_LARGE: 'stop-and-alert',
  UNSUPPORTED_MEDIA_TYPE: 'stop-and-alert',
  RATE_LIMITED: 'retry',
  TOO_MANY_CONNECTIONS: 'retry',
  IDEMPOTENCY_KEY_REUSED: 'stop-and-alert',
  // The first sync finishes on its own once the hub is reachable (GET /readyz answers 200 then).
  REPLICA_NOT_READY: 'retry',
  // The process takes nothing more until an operator has fixed its disk and restarted it.
  STORAGE_UNAVAILABLE: 'stop-and-alert',
  // The node read the SKU again, or its new owner takes the write: the same request succeeds on a retry.
  WRITE_CONFLICT: 'retry',
  // The proxy is not running, or not at the registered address: an operator starts or registers it.
  FAULT_PROXY_UNAVAILABLE: 'stop-and-alert',
  // Unexpected, often passing; writes carry an Idempotency-Key, so a retry applies at most once.
  INTERNAL: 'retry',
};

/**
 * A failure as data: a code, a sentence for people, and structured details for
 * programs, shaped per code (ErrorDetails): none for most codes, optional where
 * every field is, required otherwise. A union over the codes: narrow by `code`
 * to read `details`.
 */
export type ShelfsyncError<C extends ErrorCode = ErrorCode> = C extends ErrorCode
  ? [ErrorDetails<C>] extends [undefined]
    ? { readonly code: C; readonly detail: string; readonly details?: never }
    : object extends ErrorDetails<C>
      ? { readonly code: C; readonly detail: string; readonly details?: ErrorDetails<C> }
      : { readonly code: C; readonly detail: string; readonly details: ErrorDetails<C> }
  : never;

/** An error with code `code`; `details` must have that code's shape (ErrorDetails). */
export function shelfsyncError<C extends ErrorCode>(
  code: C,
  detail: string,
  ...[details]: ErrorDetailsArg<C>
): ShelfsyncError<C> {
  return (details === undefined ? { code, detail } : { code, detail, details }) as ShelfsyncError<C>;
}

/** Outcome of an operation that can fail for a reason the caller should handle. */
export type Result<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ShelfsyncError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T = never, C extends ErrorCode = ErrorCode>(
  code: C,
  detail: string,
  ...details: ErrorDetailsArg<C>
): Result<T> {
  return { ok: false, error: shelfsyncError(code, detail, ...details) as ShelfsyncError };
}

const errorCodeValues = Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]];
export const ErrorCodeSchema = z.enum(errorCodeValues);

/** RFC 9457 problem details, as every shelfsync HTTP error body is shaped. */
export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int().min(400).max(599),
  detail: z.string(),
  code: ErrorCodeSchema,
  /** How to recover (an extension member, RFC 9457 section 3.2): the code's class in recoveryByErrorCode. */
  recovery: RecoverySchema.optional(),
  instance: z.string().optional(),
  requestId: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type Problem = z.infer<typeof ProblemSchema>;

/** Turns an error into a problem+json body; `type` is a stable URN per code. */
export function toProblem(error: ShelfsyncError, context: { instance?: string; requestId?: string } = {}): Problem {
  const status = httpStatusByCode[error.code];
  const problem: Problem = {
    type: `urn:shelfsync:error:${error.code.toLowerCase().replaceAll('_', '-')}`,
    title: error.code,
    status,
    detail: error.detail,
    code: error.code,
    recovery: recoveryByErrorCode[error.code],
  };
  if (context.instance !== undefined) problem.instance = context.instance;
  if (context.requestId !== undefined) problem.requestId = context.requestId;
  if (error.details !== undefined) problem.details = { ...error.details };
  return problem;
}
