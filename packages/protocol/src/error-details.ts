import { z } from 'zod';
import { RefusalCauseSchema, ReservationSchema } from './api.js';
import { ProblemSchema, type ErrorCode, type ShelfsyncError } from './errors.js';
import { AccountIdSchema } from './ids.js';

const account = AccountIdSchema;
const units = z.int();
/** A store adds it to every operation it refuses: whether it was connected to the hub. */
const storeRefusal = { hubReachable: z.boolean().optional() };

/**
 * The `details` each error code carries (null: none). Field names are part of the
 * wire contract: add fields, never rename them. Complete by type: a new code must
 * be placed here.
 */
export const errorDetailsSchemas = {
  VALIDATION_FAILED: z.object({
    /** Every schema issue: where (`body.quantity`) and what. */
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    /** The account an operation named when the operation does not apply to it. */
    account: account.optional(),
    ...storeRefusal,
  }),
  INSUFFICIENT_RIGHTS: z.object({
    account,
    rights: units,
    requested: units,
    ...storeRefusal,
    /** What the hub's last top-up answer said the location holds. */
    availableAtLocation: units.optional(),
    /** Why a store refused a sale beyond its rights. */
    cause: RefusalCauseSchema.optional(),
  }),
  INSUFFICIENT_STOCK: z.object({ available: units }),
  OVERRIDE_CAP_EXCEEDED: z.object({
    account,
    /** Units the account would owe. */
    outstanding: units,
    cap: units,
    /** Present when a store refused the sale: its rights and the units asked for. */
    rights: units.optional(),
    requested: units.optional(),
    ...storeRefusal,
  }),
  RESERVATION_CLOSED: z.object({ state: ReservationSchema.shape.state }),
  INSUFFICIENT_RESERVATION: z.object({ account, outstanding: units, requested: units, ...storeRefusal }),
  NOT_OWNER: z.object({ account, ...storeRefusal }),
  INVALID_TRANSFER: z.object({ from: account, to: account, ...storeRefusal }),
  COUNTER_OVERFLOW: z.object({ account, ...storeRefusal }),
  UPDATE_MALFORMED: null,
  UPDATE_TOO_LARGE: null,
  UPDATE_MISSING_DEPENDENCY: null,
  UPDATE_FOREIGN_ENTRY: null,
  UPDATE_UNEXPECTED_TYPE: null,
  UPDATE_INVALID_VALUE: z.object({ account: account.optional() }),
  /** `field`: the total that would decrease (`p`, `n`, `reserved`, `settled`, `o`, `c`, or `t.<account>`). */
  UPDATE_DECREASING_TOTAL: z.object({ account, field: z.string() }),
  UPDATE_OVERDRAWN: z.object({ account, rights: units, allowance: units }),
  UPDATE_CONCURRENT_ENTRY: null,
  UPDATE_CLIENT_ID_TAKEN: z.object({ client: z.int().min(0) }),
  NOT_FOUND: null,
  METHOD_NOT_ALLOWED: null,
  UNAUTHORIZED: null,
  PAYLOAD_TOO_LARGE: null,
  UNSUPPORTED_MEDIA_TYPE: null,
  RATE_LIMITED: null,
  TOO_MANY_CONNECTIONS: null,
  IDEMPOTENCY_KEY_REUSED: null,
  REPLICA_NOT_READY: null,
  STORAGE_UNAVAILABLE: null,
  WRITE_CONFLICT: null,
  FAULT_PROXY_UNAVAILABLE: null,
  INTERNAL: null,
} as const satisfies Readonly<Record<ErrorCode, z.ZodObject | null>>;

type DetailsSchemas = typeof errorDetailsSchemas;

/** The `details` of an error with code `C`; undefined for a code that carries none. */
export type ErrorDetails<C extends ErrorCode> = C extends ErrorCode
  ? DetailsSchemas[C] extends z.ZodType
    ? z.output<DetailsSchemas[C]>
    : undefined
  : never;

/** The details argument for code `C`: none, optional (every field optional) or required. */
export type ErrorDetailsArg<C extends ErrorCode> = [ErrorDetails<C>] extends [undefined]
  ? []
  : object extends ErrorDetails<C>
    ? [details?: ErrorDetails<C>]
    : [details: ErrorDetails<C>];

/** The fields of a code's details, in schema order, for docs and tables; none for a code without details. */
export function errorDetailFields(code: ErrorCode): { readonly name: string; readonly optional: boolean }[] {
  const schema: z.ZodObject | null = errorDetailsSchemas[code];
  if (schema === null) return [];
  return Object.entries(schema.shape).map(([name, field]) => ({
    name,
    optional: z.safeParse(field, undefined).success,
  }));
}

export type ProblemDetailsResult<C extends ErrorCode> =
  { readonly success: true; readonly data: ErrorDetails<C> } | { readonly success: false; readonly error: z.ZodError };

/**
 * Checks the `details` of a problem (or of a Result's error) with code `code`
 * against that code's schema. Fields this version does not know are kept (a
 * later version may add some); details of a code that defines none are dropped.
 * Absent details pass for a code whose fields are all optional (as `{}`).
 */
export function parseProblemDetails<C extends ErrorCode>(code: C, details: unknown): ProblemDetailsResult<C> {
  const schema: z.ZodObject | null = errorDetailsSchemas[code];
  if (schema === null) return { success: true, data: undefined as ErrorDetails<C> };
  const parsed = schema.loose().safeParse(details === undefined ? {} : details);
  if (!parsed.success) return { success: false, error: parsed.error };
  return { success: true, data: parsed.data as ErrorDetails<C> };
}

/**
 * A problem+json body whose `details` are also checked against its code's schema
 * (ProblemSchema checks only their outline, so it reads any version's bodies).
 */
export const CheckedProblemSchema = ProblemSchema.superRefine((problem, ctx) => {
  const details = parseProblemDetails(problem.code, problem.details);
  if (details.success) return;
  for (const issue of details.error.issues) {
    ctx.addIssue({ code: 'custom', message: issue.message, path: ['details', ...issue.path] });
  }
});

/**
 * `error` with `more` merged into its details, for a layer that knows more than
 * the one that failed (a store adds `hubReachable` to the refusal of an
 * operation). Checked against the code's schema when `error` has one code; for an
 * error of several possible codes, `more` has to fit one of them.
 */
export function withDetails<E extends ShelfsyncError>(error: E, more: Partial<NonNullable<E['details']>>): E {
  return { ...error, details: { ...error.details, ...more } };
}
