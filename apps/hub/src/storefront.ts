import type Router from '@koa/router';
import { parseOrThrow, problem, type AddressSlots, type RequestState } from '@shelfsync/edge';
import { ErrorCode, SkuSchema, StoreIdSchema } from '@shelfsync/protocol';
import type { ChainActivity, StockEvents, StorefrontReads, VersionedRead } from '@shelfsync/storefront';
import type { Context } from 'koa';
import { PassThrough } from 'node:stream';
import { z } from 'zod';

/** Live stock: caches may serve a read for a second, then must revalidate (a cheap 304 with the ETag). */
const CACHE_CONTROL = 'public, max-age=1, stale-while-revalidate=5';
/** What a client refused an event stream at the cap is told to wait. */
const EVENTS_RETRY_AFTER_S = 5;

const ListQuerySchema = z.strictObject({
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,120}$/, 'an opaque cursor from nextCursor')
    .optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  store: StoreIdSchema.optional(),
  inStock: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional(),
});

const EventsQuerySchema = z.strictObject({
  sku: z.union([SkuSchema, z.array(SkuSchema).max(100)]).optional(),
  lastEventId: z.string().max(100).optional(),
});

/** The storefront's services, as the hub composes them. */
export interface StorefrontServices {
  readonly reads: StorefrontReads;
  readonly events: StockEvents;
  /** Caps open event streams per client address and in total; null for no cap. */
  readonly eventStreams: AddressSlots | null;
}

/** Answers a versioned read: its ETag and caching, then 304 when the client holds it, else the body. */
function answer(ctx: Context, read: VersionedRead<unknown>): void {
  ctx.set('ETag', read.etag);
  ctx.set('Cache-Control', CACHE_CONTROL);
  if (read.notModified) {
    ctx.status = 304;
    ctx.body = null;
    return;
  }
  // A serialized body is sent as is.
  if (typeof read.body === 'string') ctx.type = 'application/json';
  ctx.body = read.body;
}

/**
 * The storefront's read API on the hub: public, cacheable reads of merged stock,
 * a cursor walk of the catalog, per-store availability, and a Server-Sent Events
 * stream of changes with Last-Event-ID resume (the rules are the services').
 * Past the event stream cap: `429 TOO_MANY_CONNECTIONS` with Retry-After.
 */
export function storefrontRoutes(router: Router<RequestState>, services: StorefrontServices): void {
  const { reads, events, eventStreams } = services;

  router.get('/v1/skus/:sku', async (ctx) => {
    const sku = parseOrThrow(SkuSchema, ctx.params.sku, 'path.sku');
    answer(ctx, await reads.stock(sku, ctx.get('if-none-match')));
  });

  router.get('/v1/stores/:storeId/skus/:sku', async (ctx) => {
    const storeId = parseOrThrow(StoreIdSchema, ctx.params.storeId, 'path.storeId');
    const sku = parseOrThrow(SkuSchema, ctx.params.sku, 'path.sku');
    answer(ctx, await reads.storeAvailability(storeId, sku, ctx.get('if-none-match')));
  });

  router.get('/v1/skus', async (ctx) => {
    const page = await reads.list(parseOrThrow(ListQuerySchema, ctx.query, 'query'));
    ctx.set('Cache-Control', CACHE_CONTROL);
    ctx.body = page;
  });

  router.get('/v1/events', (ctx) => {
    const query = parseOrThrow(EventsQuerySchema, ctx.query, 'query');
    const skus = query.sku === undefined ? null : new Set(Array.isArray(query.sku) ? query.sku : [query.sku]);
    const slot = eventStreams?.acquire(ctx.request.ip) ?? null;
    if (eventStreams !== null && slot === null) {
      ctx.set('Retry-After', String(EVENTS_RETRY_AFTER_S));
      throw problem(
        ErrorCode.TooManyConnections,
        `too many open event streams (per client or in total); retry in ${EVENTS_RETRY_AFTER_S} s`,
      );
    }
    const stream = new PassThrough();
    ctx.status = 200;
    ctx.type = 'text/event-stream';
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('X-Accel-Buffering', 'no');
    ctx.body = stream;
    const feed = events.subscribe(
      { skus, lastEventId: ctx.get('last-event-id') || query.lastEventId },
      {
        write: (text) => stream.write(text),
        backlog: () => stream.writableLength,
        end: () => {
          slot?.release();
          stream.end();
        },
      },
    );
    ctx.req.on('close', () => feed.close());
  });
}

/** GET /v1/summary: the chain's activity by minute, for the dashboard; never cached. */
export function summaryRoutes(router: Router<RequestState>, activity: Pick<ChainActivity, 'summary'>): void {
  router.get('/v1/summary', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = activity.summary();
  });
}
