import { ErrorCode } from '@shelfsync/protocol';
import type { Middleware } from 'koa';
import { problem, type RequestState } from './http.js';

export interface RateLimitOptions {
  /** Requests per second each client may make, sustained; 0 turns the limit off. */
  readonly perSecond: number;
  /** Requests a client may make at once above the sustained rate. */
  readonly burst: number;
  /** Which requests count (the public ones). */
  readonly applies: (path: string, method: string) => boolean;
  readonly now?: () => number;
}

/** Buckets kept at most; the idlest are dropped first (a dropped bucket is simply full again). */
const MAX_CLIENTS = 10_000;

/**
 * A token bucket per client address: `429 RATE_LIMITED` with `Retry-After`
 * (seconds until one request is allowed again) once a client's bucket is empty.
 */
export function rateLimit(options: RateLimitOptions): Middleware<RequestState> {
  const now = options.now ?? (() => performance.now());
  const buckets = new Map<string, { tokens: number; at: number }>();
  return async (ctx, next) => {
    if (options.perSecond <= 0 || !options.applies(ctx.path, ctx.method)) {
      await next();
      return;
    }
    const client = ctx.request.ip;
    const t = now();
    let bucket = buckets.get(client);
    if (bucket === undefined) {
      if (buckets.size >= MAX_CLIENTS) {
        const idlest = buckets.keys().next().value;
        if (idlest !== undefined) buckets.delete(idlest);
      }
      bucket = { tokens: options.burst, at: t };
    } else {
      buckets.delete(client);
      bucket.tokens = Math.min(options.burst, bucket.tokens + ((t - bucket.at) / 1000) * options.perSecond);
      bucket.at = t;
    }
    buckets.set(client, bucket);
    if (bucket.tokens < 1) {
      const seconds = Math.max(1, Math.ceil((1 - bucket.tokens) / options.perSecond));
      ctx.set('Retry-After', String(seconds));
      throw problem(ErrorCode.RateLimited, `more than ${options.perSecond} requests per second; retry in ${seconds} s`);
    }
    bucket.tokens -= 1;
    await next();
  };
}

/**
 * CORS for the storefront origins listed: their browsers may read the public
 * API and call it with the headers it uses; other origins get no CORS headers
 * (the browser then refuses). Preflights answer 204.
 */
export function cors(origins: readonly string[]): Middleware<RequestState> {
  const allowed = new Set(origins);
  return async (ctx, next) => {
    const origin = ctx.get('origin');
    if (origin === '' || !allowed.has(origin)) {
      await next();
      return;
    }
    ctx.vary('Origin');
    ctx.set('Access-Control-Allow-Origin', origin);
    ctx.set('Access-Control-Expose-Headers', 'ETag, Retry-After, X-Request-Id, Location, Idempotent-Replayed');
    if (ctx.method === 'OPTIONS' && ctx.get('access-control-request-method') !== '') {
      ctx.set('Access-Control-Allow-Methods', 'GET, POST');
      ctx.set(
        'Access-Control-Allow-Headers',
        'Content-Type, Authorization, Idempotency-Key, If-None-Match, Last-Event-ID, X-Request-Id',
      );
      ctx.set('Access-Control-Max-Age', '600');
      ctx.status = 204;
      return;
    }
    await next();
  };
}
