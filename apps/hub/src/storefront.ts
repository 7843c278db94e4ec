import type Router from '@koa/router';
import { computeStock, type StockView } from '@shelfsync/core';
import { parseOrThrow, problem, type AddressSlots, type Logger, type RequestState } from '@shelfsync/edge';
import {
  CENTRAL_LOCATION,
  ErrorCode,
  SkuSchema,
  StoreIdSchema,
  type SkuListSchema,
  type SkuStock,
  type StoreAvailabilitySchema,
  type Sku,
} from '@shelfsync/protocol';
import { CatalogIndex, type ChainActivity } from '@shelfsync/storefront';
import type { HubChange, HubChangeLog, HubDocuments } from '@shelfsync/sync';
import type { Context } from 'koa';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { z } from 'zod';

/** Live stock: caches may serve a read for a second, then must revalidate (a cheap 304 with the ETag). */
const CACHE_CONTROL = 'public, max-age=1, stale-while-revalidate=5';
/** SKUs a listing request examines at most to fill a filtered page; the cursor continues from there. */
const MAX_SCAN = 2_000;
/** An SSE client's changes are sent at most this often, coalesced per SKU. */
const EVENTS_FLUSH_MS = 100;
const HEARTBEAT_MS = 15_000;
/** Bytes an event stream may have queued and unsent before the hub ends it. */
const MAX_EVENT_BACKLOG = 1024 * 1024;
/** What a client refused an event stream at the cap is told to wait. */
const EVENTS_RETRY_AFTER_S = 5;
/** Read bodies kept serialized (the hot part of the catalog). */
const BODY_CACHE_SIZE = 10_000;

const ListQuerySchema = z.strictObject({
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,120}$/, 'an opaque cursor from nextCursor')
    .optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  store: StoreIdSchema.optional(),
  inStock: z.enum(['true', 'false']).optional(),
});

const EventsQuerySchema = z.strictObject({
  sku: z.union([SkuSchema, z.array(SkuSchema).max(100)]).optional(),
  lastEventId: z.string().max(100).optional(),
});

/** One SKU as the storefront sees it: chain-wide, per store, and central. */
export function stockBody(sku: Sku, view: StockView, change: HubChange | undefined): SkuStock {
  return {
    sku,
    /** Units no one has committed, chain-wide (reserved units are committed). */
    available: view.value,
    /** Units the online channel can promise from the central warehouse. */
    central: { available: view.accounts[`online:${CENTRAL_LOCATION}`]?.rights ?? 0 },
    locations: Object.values(view.locations)
      .filter((l) => l.location !== CENTRAL_LOCATION)
      .map((l) => ({
        location: l.location,
        onShelf: l.onShelf,
        posRights: l.posRights,
        onlineRights: l.onlineRights,
        /** What an online customer can reserve for pickup there now. */
        reservable: l.reservable,
        reserved: l.outstandingReservations,
        deficit: l.deficit,
        reservationsAtRisk: l.reservationsAtRisk,
      })),
    updatedAt: change === undefined ? null : new Date(change.at).toISOString(),
    change: change?.seq ?? 0,
  };
}

/**
 * The storefront's read API on the hub: public, cacheable reads of merged stock
 * (strong ETags from the hub's change numbers and process), a stable cursor walk of the
 * catalog, per-store availability, and a Server-Sent Events stream of changes
 * with Last-Event-ID resume. `streams` caps open event streams per client
 * address and in total: past it, `429 TOO_MANY_CONNECTIONS`. Returns what ends
 * every open event stream.
 */
export function storefrontRoutes(
  router: Router<RequestState>,
  storage: HubChangeLog & Pick<HubDocuments, 'open'>,
  log: Logger,
  eventStreams: AddressSlots | null = null,
): () => void {
  const catalog = new CatalogIndex(storage);
  const epochTag = storage.epoch.replace(/[^A-Za-z0-9]/g, '').slice(0, 8);
  // A change is numbered before it is durable, and a crash can hand its number to
  // another change: an ETag names the process too, so it never matches across a
  // restart (clients fetch each SKU once more after one).
  const bootTag = randomBytes(3).toString('hex');
  const etagOf = (seq: number, suffix = ''): string => `"${epochTag}${bootTag}-${seq}${suffix}"`;
  /** Answers 304 when the client already holds this version. */
  const notModified = (ctx: Context, etag: string): boolean => {
    ctx.set('ETag', etag);
    ctx.set('Cache-Control', CACHE_CONTROL);
    const given = ctx.get('if-none-match');
    if (given === '') return false;
    const tags = given.split(',').map((t) => t.trim());
    if (!tags.includes(etag) && !tags.includes('*')) return false;
    ctx.status = 304;
    ctx.body = null;
    return true;
  };
  const known = (sku: Sku): HubChange => {
    const change = storage.changeOf(sku);
    if (change === undefined) throw problem(ErrorCode.NotFound, `no stock recorded for ${sku}`);
    return change;
  };

  /**
   * Serialized read bodies by SKU, valid while the SKU's change number holds: a
   * hot SKU read thousands of times between two sales is derived and encoded once.
   * Map order is least recently used first; bounded.
   */
  const bodies = new Map<Sku, { seq: number; json: string }>();
  const bodyOf = async (sku: Sku, change: HubChange): Promise<string> => {
    const cached = bodies.get(sku);
    if (cached !== undefined) bodies.delete(sku);
    const json =
      cached?.seq === change.seq
        ? cached.json
        : JSON.stringify(stockBody(sku, computeStock(await storage.open(sku)), change));
    bodies.set(sku, { seq: change.seq, json });
    if (bodies.size > BODY_CACHE_SIZE) {
      const oldest = bodies.keys().next().value;
      if (oldest !== undefined) bodies.delete(oldest);
    }
    return json;
  };

  router.get('/v1/skus/:sku', async (ctx) => {
    const sku = parseOrThrow(SkuSchema, ctx.params.sku, 'path.sku');
    const change = known(sku);
    if (notModified(ctx, etagOf(change.seq))) return;
    const json = await bodyOf(sku, change);
    ctx.type = 'application/json';
    ctx.body = json;
  });

  router.get('/v1/stores/:storeId/skus/:sku', async (ctx) => {
    const storeId = parseOrThrow(StoreIdSchema, ctx.params.storeId, 'path.storeId');
    const sku = parseOrThrow(SkuSchema, ctx.params.sku, 'path.sku');
    const change = known(sku);
    if (notModified(ctx, etagOf(change.seq, `-${storeId}`))) return;
    const view = computeStock(await storage.open(sku));
    const here = view.locations[storeId];
    ctx.body = {
      sku,
      storeId,
      onShelf: here?.onShelf ?? 0,
      reservable: here?.reservable ?? 0,
      posRights: here?.posRights ?? 0,
      reserved: here?.outstandingReservations ?? 0,
      deficit: here?.deficit ?? 0,
      reservationsAtRisk: here?.reservationsAtRisk ?? 0,
      available: view.value,
      updatedAt: new Date(change.at).toISOString(),
      change: change.seq,
    } satisfies z.infer<typeof StoreAvailabilitySchema>;
  });

  router.get('/v1/skus', async (ctx) => {
    const query = parseOrThrow(ListQuerySchema, ctx.query, 'query');
    let after: Sku | null = null;
    if (query.cursor !== undefined) {
      const decoded = SkuSchema.safeParse(Buffer.from(query.cursor, 'base64url').toString('utf8'));
      if (!decoded.success) throw problem(ErrorCode.ValidationFailed, 'query.cursor: not a cursor this hub gave out');
      after = decoded.data;
    }
    const items: z.infer<typeof SkuListSchema>['items'] = [];
    let scanned = 0;
    let last: Sku | null = after;
    let exhausted = false;
    while (items.length < query.limit && scanned < MAX_SCAN) {
      const batch = catalog.skusAfter(last, Math.min(query.limit - items.length + 20, MAX_SCAN - scanned));
      if (batch.length === 0) {
        exhausted = true;
        break;
      }
      for (const sku of batch) {
        scanned++;
        last = sku;
        const view = computeStock(await storage.open(sku));
        const here = query.store === undefined ? undefined : view.locations[query.store];
        if (query.store !== undefined && here === undefined) continue;
        const stock = here === undefined ? view.value : here.onShelf;
        if (query.inStock === 'true' && stock <= 0) continue;
        if (query.inStock === 'false' && stock > 0) continue;
        const change = storage.changeOf(sku);
        items.push({
          sku,
          available: view.value,
          ...(here === undefined ? {} : { store: { onShelf: here.onShelf, reservable: here.reservable } }),
          updatedAt: change === undefined ? null : new Date(change.at).toISOString(),
        });
        if (items.length === query.limit) break;
      }
    }
    if (!exhausted && last !== null && catalog.skusAfter(last, 1).length === 0) exhausted = true;
    ctx.set('Cache-Control', CACHE_CONTROL);
    ctx.body = {
      items,
      nextCursor: exhausted || last === null ? null : Buffer.from(last, 'utf8').toString('base64url'),
    } satisfies z.infer<typeof SkuListSchema>;
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
        const json = await bodyOf(sku, change);
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
