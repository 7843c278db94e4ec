import type Router from '@koa/router';
import { parseOrThrow, problem, type AddressSlots, type Logger, type RequestState } from '@shelfsync/edge';
import { ErrorCode, SkuSchema, StoreIdSchema, type Sku } from '@shelfsync/protocol';
import {
  epochTagOf,
  type ChainActivity,
  type StockBodies,
  type StorefrontReads,
  type StorefrontStorage,
  type VersionedRead,
} from '@shelfsync/storefront';
import type { Context } from 'koa';
import { PassThrough } from 'node:stream';
import { z } from 'zod';

/** Live stock: caches may serve a read for a second, then must revalidate (a cheap 304 with the ETag). */
const CACHE_CONTROL = 'public, max-age=1, stale-while-revalidate=5';
/** An SSE client's changes are sent at most this often, coalesced per SKU. */
const EVENTS_FLUSH_MS = 100;
const HEARTBEAT_MS = 15_000;
/** Bytes an event stream may have queued and unsent before the hub ends it. */
const MAX_EVENT_BACKLOG = 1024 * 1024;
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
  /** The serialized bodies the reads keep: event streams send the same ones. */
  readonly bodies: StockBodies;
  readonly storage: StorefrontStorage;
  readonly log: Logger;
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
 * The storefront's read API on the hub: public, cacheable reads of merged stock
 * (the rules are StorefrontReads'), and a Server-Sent Events stream of changes
 * with Last-Event-ID resume. Past the event stream cap: `429
 * TOO_MANY_CONNECTIONS` with Retry-After. Returns what ends every open event stream.
 */
export function storefrontRoutes(router: Router<RequestState>, services: StorefrontServices): () => void {
  const { reads, bodies, storage, log, eventStreams } = services;
  const epochTag = epochTagOf(storage.epoch);

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

  const streams = new Set<() => void>();
  router.get('/v1/events', (ctx) => {
    const query = parseOrThrow(EventsQuerySchema, ctx.query, 'query');
    const filter = query.sku === undefined ? null : new Set(Array.isArray(query.sku) ? query.sku : [query.sku]);
    const lastEventId = ctx.get('last-event-id') || query.lastEventId;
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

    const pending = new Map<Sku, number>();
    let timer: ReturnType<typeof setTimeout> | null = null;
    let closed = false;
    // A client that stops reading is let go before its backlog grows without bound: it
    // reconnects and resumes from its Last-Event-ID, which costs only what changed.
    const write = (text: string): void => {
      if (closed) return;
      if (stream.writableLength > MAX_EVENT_BACKLOG) end();
      else stream.write(text);
    };
    const send = async (): Promise<void> => {
      timer = null;
      const batch = [...pending].sort((a, b) => a[1] - b[1]);
      pending.clear();
      for (const [sku, seq] of batch) {
        const change = storage.changeOf(sku);
        if (change === undefined || closed) continue;
        // The same serialized body as the read: one encoding per change, however many listen.
        const json = await bodies.json(sku, change);
        // The id is the durable change that queued this event, never a newer one
        // still being written: a client resumes from it, and a number a crash took
        // back would be given to another change.
        write(`id: ${epochTag}.${seq}\nevent: stock\ndata: ${json}\n\n`);
      }
    };
    const queue = (sku: Sku, seq: number): void => {
      if (closed || (filter !== null && !filter.has(sku))) return;
      pending.set(sku, seq);
      timer ??= setTimeout(() => {
        send().catch((error: unknown) => log.warn({ err: error }, 'event stream write failed'));
      }, EVENTS_FLUSH_MS);
    };
    // Resume: what changed after the client's last event, at its latest state.
    stream.write(`retry: 2000\n\n`);
    if (lastEventId !== undefined && lastEventId !== '') {
      const [tag, seqText] = lastEventId.split('.');
      const seq = Number(seqText);
      if (tag !== epochTag || !Number.isInteger(seq) || seq < 0) {
        stream.write(`event: reset\ndata: {"reason":"the hub's data changed; reload the full state"}\n\n`);
      } else {
        for (const sku of storage.changedSince(seq)) {
          queue(sku, Math.min(storage.changeOf(sku)?.seq ?? 0, storage.cursor()));
        }
      }
    }
    const unsubscribe = storage.onCommit((sku, change) => queue(sku, change.seq));
    const heartbeat = setInterval(() => write(': keep-alive\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    const end = (): void => {
      if (closed) return;
      closed = true;
      unsubscribe();
      clearInterval(heartbeat);
      if (timer !== null) clearTimeout(timer);
      streams.delete(end);
      slot?.release();
      stream.end();
    };
    streams.add(end);
    ctx.req.on('close', end);
  });

  return () => {
    for (const end of [...streams]) end();
  };
}

/** GET /v1/summary: the chain's activity by minute, for the dashboard; never cached. */
export function summaryRoutes(router: Router<RequestState>, activity: ChainActivity): void {
  router.get('/v1/summary', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = activity.summary();
  });
}
