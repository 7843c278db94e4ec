import { HttpProblem, type IdempotencyKeys } from '@shelfsync/edge';
import {
  ErrorCode,
  IdempotencyKeySchema,
  ProblemSchema,
  ReservationIdSchema,
  ReservationRequestSchema,
  httpStatusByCode,
  shelfsyncError,
  toProblem,
  type Reservation,
  type ReservationRequest,
  type Result,
  type Sku,
} from '@shelfsync/protocol';
import type { Reservations } from '@shelfsync/sync';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { OwnerRoute } from './owner-route.js';

/**
 * A reservation call's answer as HTTP carries it: a reservation (below 400),
 * or a problem. A replayed body is what was stored with its Idempotency-Key,
 * possibly by an earlier version of the hub, so it is passed on as stored.
 */
export interface DeskAnswer {
  readonly status: number;
  readonly body: unknown;
  /** The answer of an earlier request with the same Idempotency-Key. */
  readonly replayed: boolean;
}

/** The reservation calls of the HTTP API, whichever node serves them. */
export interface ReservationDesk {
  reserve(input: ReservationRequest, key: string | undefined): Promise<DeskAnswer>;
  close(id: string, to: 'confirmed' | 'cancelled'): Promise<DeskAnswer>;
  get(id: string): Promise<Reservation | undefined>;
}

const RESERVE_PATH = '/v1/reservations';

function problemAnswer(
  code: typeof ErrorCode.NotFound | typeof ErrorCode.WriteConflict | typeof ErrorCode.Internal,
  detail: string,
  instance: string,
): DeskAnswer {
  return {
    status: httpStatusByCode[code],
    body: toProblem(shelfsyncError(code, detail), { instance }),
    replayed: false,
  };
}

/** The path of a confirm or cancel, as its problems name it. */
const closeInstance = (id: string, to: 'confirmed' | 'cancelled'): string =>
  `${RESERVE_PATH}/${id}/${to === 'confirmed' ? 'confirm' : 'cancel'}`;

function resultAnswer(result: Result<Reservation>, instance: string): DeskAnswer {
  if (result.ok) return { status: 200, body: result.value, replayed: false };
  return { status: httpStatusByCode[result.error.code], body: toProblem(result.error, { instance }), replayed: false };
}

/**
 * The reservations this node writes: each reservation and its idempotency
 * answer stored in one commit (`IdempotencyKeys.run`).
 */
export class LocalReservationDesk implements ReservationDesk {
  constructor(
    private readonly reservations: Reservations,
    private readonly idempotency: IdempotencyKeys,
    /** Each reservation decided here (not replayed), by outcome: its state or the refusal's code. */
    private readonly decided: (outcome: string) => void,
  ) {}

  async reserve(input: ReservationRequest, key: string | undefined): Promise<DeskAnswer> {
    try {
      return await this.idempotency.run(
        key,
        { method: 'POST', path: RESERVE_PATH, body: input },
        async (recordWrites) => {
          const made = await this.reservations.reserve(input, (r) => recordWrites(201, r));
          this.decided(made.ok ? made.value.state : made.error.code);
          if (made.ok) return { status: 201, body: made.value, recorded: true };
          return {
            status: httpStatusByCode[made.error.code],
            body: toProblem(made.error, { instance: RESERVE_PATH }),
            recorded: false,
          };
        },
      );
    } catch (error) {
      // A reused key is an answer of the call, wherever it is decided.
      if (error instanceof HttpProblem) {
        const status = httpStatusByCode[error.error.code];
        return { status, body: toProblem(error.error, { instance: RESERVE_PATH }), replayed: false };
      }
      throw error;
    }
  }

  async close(id: string, to: 'confirmed' | 'cancelled'): Promise<DeskAnswer> {
    const instance = closeInstance(id, to);
    return resultAnswer(
      await (to === 'confirmed' ? this.reservations.confirm(id) : this.reservations.cancel(id)),
      instance,
    );
  }

  get(id: string): Promise<Reservation | undefined> {
    return this.reservations.get(id);
  }
}

/** How long a node waits for the owner's answer: past a lease's expiry, so a failed owner's successor can serve it. */
const OWNER_ANSWER_MS = 15_000;

const AnswerSchema = z.strictObject({
  status: z.int().min(200).max(599),
  // Loose: a replayed answer may come from an earlier version of the hub.
  body: z.union([ProblemSchema, z.looseObject({ id: ReservationIdSchema, state: z.string() })]),
  replayed: z.boolean(),
});

const OutcomeSchema = z.union([z.object({ code: z.string() }), z.object({ state: z.string() })]);

/** What a call came to, for metrics: the reservation's state, or the problem's code. */
export function outcomeOf(answer: DeskAnswer): string {
  const parsed = OutcomeSchema.safeParse(answer.body);
  if (!parsed.success) return 'unknown';
  return 'code' in parsed.data ? parsed.data.code : parsed.data.state;
}

/** The id of the reservation an answer holds, if it holds one. */
export function reservationIdOf(answer: DeskAnswer): string | undefined {
  if (answer.status >= 400) return undefined;
  const parsed = z.object({ id: ReservationIdSchema }).safeParse(answer.body);
  return parsed.success ? parsed.data.id : undefined;
}
const ReserveBodySchema = z.strictObject({ input: ReservationRequestSchema, key: IdempotencyKeySchema.nullable() });
const CloseBodySchema = z.strictObject({ id: ReservationIdSchema, to: z.enum(['confirmed', 'cancelled']) });

/**
 * Reservations on a cluster node: a call for a SKU this node writes runs here;
 * any other goes to the SKU's owner (`OwnerRoute`) and its answer comes back,
 * so every node serves the whole API and one node decides each SKU.
 *
 * Each hand-over is a new request. An owner may run one twice (it failed
 * mid-way and its successor took it over), so a reservation without an
 * Idempotency-Key is made under the request's id as its key: it is made once.
 */
export class ClusterReservationDesk implements ReservationDesk {
  constructor(
    private readonly local: LocalReservationDesk,
    private readonly route: OwnerRoute,
  ) {
    route.serve('reserve', async (id, body) => {
      const { input, key } = ReserveBodySchema.parse(body);
      return this.local.reserve(input, key ?? `owner-request:${id}`);
    });
    route.serve('close', async (_id, body) => {
      const { id, to } = CloseBodySchema.parse(body);
      return this.local.close(id, to);
    });
  }

  async reserve(input: ReservationRequest, key: string | undefined): Promise<DeskAnswer> {
    if (this.route.owns(input.sku)) return this.local.reserve(input, key);
    const answer = await this.handOver(input.sku, 'reserve', { input, key: key ?? null }, RESERVE_PATH);
    // Without a key of the caller's, a replay is the owner running the request again: nothing to tell.
    return key === undefined ? { ...answer, replayed: false } : answer;
  }

  async close(id: string, to: 'confirmed' | 'cancelled'): Promise<DeskAnswer> {
    const found = await this.local.get(id);
    const instance = closeInstance(id, to);
    if (found === undefined) return problemAnswer(ErrorCode.NotFound, `no reservation ${id}`, instance);
    if (this.route.owns(found.sku)) return this.local.close(id, to);
    return this.handOver(found.sku, 'close', { id, to }, instance);
  }

  get(id: string): Promise<Reservation | undefined> {
    return this.local.get(id);
  }

  private async handOver(sku: Sku, kind: string, body: unknown, instance: string): Promise<DeskAnswer> {
    let answer: unknown;
    try {
      answer = await this.route.ask(sku, kind, `${kind}:${randomUUID()}`, body, OWNER_ANSWER_MS);
    } catch (error) {
      // The owner failed, moved or did not answer in time: the caller tries again (with its Idempotency-Key).
      const reason = error instanceof Error ? error.message : String(error);
      return problemAnswer(
        ErrorCode.WriteConflict,
        `the node that writes ${sku} did not answer: ${reason}; try again`,
        instance,
      );
    }
    const parsed = AnswerSchema.safeParse(answer);
    if (!parsed.success) {
      return problemAnswer(
        ErrorCode.Internal,
        `the node that writes ${sku} gave an answer this node cannot read`,
        instance,
      );
    }
    return parsed.data;
  }
}
