import type Router from '@koa/router';
import { parseOrThrow, problem, readJson, type RequestState } from '@shelfsync/edge';
import { ErrorCode, IdempotencyKeySchema, ReservationIdSchema, ReservationRequestSchema } from '@shelfsync/protocol';
import type { Context } from 'koa';
import { outcomeOf, reservationIdOf, type DeskAnswer, type ReservationDesk } from './reservation-desk.js';

/** The reservation endpoints: each maps HTTP to a desk call and its answer back. */
export function reservationRoutes(
  router: Router<RequestState>,
  desk: ReservationDesk,
  requireApiToken: (ctx: Context) => void,
  /** Each confirm or cancel answered, by outcome (reservations made are counted where they are decided). */
  closed: (outcome: string) => void,
): void {
  const send = (ctx: Context & { state: RequestState }, answer: DeskAnswer, withRequestId: boolean): void => {
    ctx.status = answer.status;
    if (answer.status >= 400) {
      ctx.type = 'application/problem+json';
      // A stored (replayable) answer goes out as stored; a fresh one names its request.
      ctx.body =
        withRequestId && typeof answer.body === 'object' && answer.body !== null
          ? { ...answer.body, requestId: ctx.state.requestId }
          : answer.body;
      return;
    }
    ctx.body = answer.body;
  };
  router.post('/v1/reservations', async (ctx) => {
    requireApiToken(ctx);
    const header = ctx.get('idempotency-key');
    const key = header === '' ? undefined : parseOrThrow(IdempotencyKeySchema, header, 'header.Idempotency-Key');
    const input = await readJson(ctx, ReservationRequestSchema);
    const answer = await desk.reserve(input, key);
    const id = reservationIdOf(answer);
    if (id !== undefined) ctx.set('Location', `/v1/reservations/${id}`);
    if (answer.replayed) ctx.set('Idempotent-Replayed', 'true');
    send(ctx, answer, false);
  });
  router.get('/v1/reservations/:id', async (ctx) => {
    requireApiToken(ctx);
    const id = parseOrThrow(ReservationIdSchema, ctx.params.id, 'path.id');
    const found = await desk.get(id);
    if (found === undefined) throw problem(ErrorCode.NotFound, `no reservation ${id}`);
    ctx.body = found;
  });
  for (const [path, to] of [
    ['confirm', 'confirmed'],
    ['cancel', 'cancelled'],
  ] as const) {
    router.post(`/v1/reservations/:id/${path}`, async (ctx) => {
      requireApiToken(ctx);
      const answer = await desk.close(parseOrThrow(ReservationIdSchema, ctx.params.id, 'path.id'), to);
      closed(outcomeOf(answer));
      send(ctx, answer, true);
    });
  }
}
