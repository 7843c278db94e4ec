import type { z } from 'zod/mini';
import { ProblemSchema, type Problem } from './schemas.js';

/** A request the server answered with a problem (4xx/5xx), or that never got an answer (`status` 0). */
export class RequestFailed extends Error {
  override readonly name = 'RequestFailed';
  constructor(
    readonly status: number,
    readonly problem: Problem | null,
    message: string,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  readonly method?: 'GET' | 'POST';
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** Give up after this long (default 8 s): a hung request must not freeze a live page. */
  readonly timeoutMs?: number;
}

/**
 * Calls the page's own server and checks the answer against `schema`. Failures
 * throw RequestFailed carrying the problem body, so callers can show its detail.
 */
export async function requestJson<S extends z.ZodMiniType>(
  path: string,
  schema: S,
  options: RequestOptions = {},
): Promise<z.infer<S>> {
  const signals = [AbortSignal.timeout(options.timeoutMs ?? 8_000)];
  if (options.signal !== undefined) signals.push(options.signal);
  let response: Response;
  try {
    response = await fetch(path, {
      method: options.method ?? 'GET',
      headers: {
        accept: 'application/json',
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...options.headers,
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      signal: AbortSignal.any(signals),
      cache: 'no-store',
    });
  } catch (error) {
    throw new RequestFailed(0, null, `no answer: ${error instanceof Error ? error.message : String(error)}`);
  }
  let payload: unknown = null;
  try {
    payload = await response.json();
  } catch {
    // Not JSON: reported below by status or schema.
  }
  if (!response.ok) {
    const problem = ProblemSchema.safeParse(payload);
    const detail = problem.success ? problem.data.detail : `HTTP ${response.status}`;
    throw new RequestFailed(response.status, problem.success ? problem.data : null, detail);
  }
  const parsed = schema.safeParse(payload);
  if (!parsed.success) throw new RequestFailed(response.status, null, `unexpected answer from ${path}`);
  return parsed.data;
}

/** A fresh Idempotency-Key: a retried request with it is applied once. */
export function idempotencyKey(prefix: string): string {
  return `${prefix}-${crypto.randomUUID()}`;
}
