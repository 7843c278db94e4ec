import {
  ErrorCode,
  ShelfsyncFailure,
  shelfsyncError,
  toProblem,
  type ErrorDetailsArg,
  type ShelfsyncError,
} from '@shelfsync/protocol';
import { randomUUID } from 'node:crypto';
import type Router from '@koa/router';
import Koa, { type Context, type Middleware, type Next } from 'koa';
import { createServer, type Server } from 'node:http';
import type { z } from 'zod';
import { ConnectionErrors } from './connection-errors.js';
import { createLogger } from './log.js';
import type { Metrics } from './metrics.js';

/** A ShelfsyncError thrown through Koa; the problem middleware turns it (and any ShelfsyncFailure) into problem+json. */
export class HttpProblem extends ShelfsyncFailure {
  override readonly name = 'HttpProblem';
}

/** A problem to throw; `details` must have the code's shape (ErrorDetails). */
export function problem<C extends ErrorCode>(code: C, detail: string, ...details: ErrorDetailsArg<C>): HttpProblem {
  return new HttpProblem(shelfsyncError(code, detail, ...details) as ShelfsyncError);
}

export interface RequestState {
  requestId: string;
}

const requestIdPattern = /^[\x21-\x7e]{1,128}$/;

/** Takes the caller's X-Request-Id when it is sane, or makes one, and echoes it on the response. */
export function requestId(): Middleware<RequestState> {
  return async (ctx, next) => {
    const given = ctx.get('x-request-id');
    ctx.state.requestId = requestIdPattern.test(given) ? given : randomUUID();
    ctx.set('X-Request-Id', ctx.state.requestId);
    await next();
  };
}

/** Logs what the problem middleware could not map; the response never carries it. */
export type UnexpectedErrorLogger = (error: unknown, ctx: Context) => void;

/**
 * Every error leaves as RFC 9457 problem+json with a `code`, a `detail` and the
 * request id; unexpected errors become INTERNAL with no internals in the body.
 * Unmatched routes answer NOT_FOUND the same way.
 */
export function problems(logUnexpected: UnexpectedErrorLogger): Middleware<RequestState> {
  return async (ctx, next: Next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw problem(ErrorCode.NotFound, `no route for ${ctx.method} ${ctx.path}`);
      }
      if (ctx.status === 405 && (ctx.body === undefined || typeof ctx.body === 'string')) {
        throw problem(ErrorCode.MethodNotAllowed, `${ctx.method} is not allowed on ${ctx.path}`);
      }
    } catch (error) {
      let known: ShelfsyncError;
      if (error instanceof ShelfsyncFailure) {
        known = error.error;
      } else {
        logUnexpected(error, ctx);
        known = shelfsyncError(ErrorCode.Internal, 'unexpected error; see the server log with this request id');
      }
      const body = toProblem(known, { instance: ctx.path, requestId: ctx.state.requestId });
      ctx.status = body.status;
      ctx.type = 'application/problem+json';
      ctx.body = body;
    }
  };
}

export interface ReadJsonOptions {
  /** Largest accepted body in bytes. */
  readonly limit: number;
}

/**
 * Reads and validates a JSON body: JSON media type, at most `limit` bytes, strict
 * parse, then the zod schema (strict objects reject unknown fields).
 */
export async function readJson<S extends z.ZodType>(
  ctx: Context,
  schema: S,
  options: ReadJsonOptions = { limit: 64 * 1024 },
): Promise<z.infer<S>> {
  if (!ctx.is('application/json')) {
    throw problem(ErrorCode.UnsupportedMediaType, 'send the body as application/json');
  }
  const declared = Number(ctx.get('content-length') || '0');
  if (declared > options.limit) throw problem(ErrorCode.PayloadTooLarge, `body over ${options.limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > options.limit) throw problem(ErrorCode.PayloadTooLarge, `body over ${options.limit} bytes`);
    chunks.push(chunk);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw problem(ErrorCode.ValidationFailed, 'body is not valid JSON');
  }
  return parseOrThrow(schema, raw, 'body');
}

/** Parses with zod or throws VALIDATION_FAILED naming each issue and where it is. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: [where, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
  throw problem(ErrorCode.ValidationFailed, `${issues[0]?.path ?? where}: ${issues[0]?.message ?? 'invalid'}`, {
    issues,
  });
}

/**
 * The HTTP server every shelfsync process runs: request ids, problem+json for
 * every error, the router's routes plus `GET /healthz`, and 405s for wrong methods.
 * What the HTTP parser refuses, and request targets that are not URLs, get a 400
 * and are counted in `errors` (by default a logger of its own), never a 500.
 */
export function createHttpServer(
  router: Router<RequestState>,
  logUnexpected: UnexpectedErrorLogger,
  metrics?: Metrics,
  guards: readonly Middleware<RequestState>[] = [],
  errors: ConnectionErrors = new ConnectionErrors(createLogger('http'), metrics),
): Server {
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  const app = new Koa<RequestState>();
  // A client that goes away mid-response (an event stream closed, a cancelled
  // fetch) is normal; anything else Koa reports is unexpected.
  app.on('error', (error: unknown, ctx: Context) => {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'EPIPE') return;
    logUnexpected(error, ctx);
  });
  if (metrics !== undefined) {
    router.get('/metrics', async (ctx) => {
      ctx.type = metrics.registry.contentType;
      ctx.body = await metrics.registry.metrics();
    });
    app.use(metrics.middleware());
  }
  app.use(requestId());
  app.use(problems(logUnexpected));
  for (const guard of guards) app.use(guard);
  app.use(router.routes());
  app.use(router.allowedMethods());
  const handle = app.callback();
  const server = createServer((request, response) => {
    if (errors.refuseBadTarget(request, response)) return;
    void handle(request, response);
  });
  errors.watchHttpServer(server);
  return server;
}
