/** How long the simulator waits for any one answer before it calls the outcome unknown. */
export const REQUEST_TIMEOUT_MS = 3_000;

/** What became of one request. */
export type Answer =
  | {
      readonly outcome: 'answered';
      readonly status: number;
      readonly body: Record<string, unknown>;
      /** Answered from the idempotency record: the operation had been applied before. */
      readonly replayed: boolean;
    }
  /** The connection was refused: the request never reached a server, so nothing was applied. */
  | { readonly outcome: 'refused' }
  /** No answer (a timeout, a reset): it may or may not have been applied. */
  | { readonly outcome: 'unknown' };

export interface SimRequest {
  readonly url: string;
  readonly body: unknown;
  /** Sends the hub's API token. */
  readonly auth: boolean;
  readonly headers?: Readonly<Record<string, string>>;
  /** The idempotency key, when the endpoint takes one. */
  readonly key?: string;
}

/**
 * The simulator's HTTP client to the stores' POS APIs and the hub's API: JSON
 * in and out, a timeout on every request, idempotency keys, and an outcome that
 * tells "not applied" (refused) from "don't know" (no answer).
 */
export class SimClient {
  constructor(private readonly apiToken: string) {}

  async post(request: SimRequest): Promise<Answer> {
    try {
      const res = await fetch(request.url, {
        method: 'POST',
        headers: {
          ...request.headers,
          'content-type': 'application/json',
          ...(request.key === undefined ? {} : { 'idempotency-key': request.key }),
          ...(request.auth ? { authorization: `Bearer ${this.apiToken}` } : {}),
        },
        body: JSON.stringify(request.body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      return {
        outcome: 'answered',
        status: res.status,
        body: parseObject(text),
        replayed: res.headers.get('idempotent-replayed') === 'true',
      };
    } catch (error) {
      return causeCode(error) === 'ECONNREFUSED' ? { outcome: 'refused' } : { outcome: 'unknown' };
    }
  }

  /** A GET; status 0 and an empty body when there was no answer. */
  async get(url: string, auth = false): Promise<{ status: number; body: Record<string, unknown> }> {
    try {
      const res = await fetch(url, {
        headers: auth ? { authorization: `Bearer ${this.apiToken}` } : {},
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      return { status: res.status, body: parseObject(await res.text()) };
    } catch {
      return { status: 0, body: {} };
    }
  }
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function causeCode(error: unknown): string | undefined {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}
