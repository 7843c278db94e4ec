import { StoreIdSchema } from '@shelfsync/protocol';
import { z } from 'zod';
import { MIN_SECRET_LENGTH } from './token.js';

/** A comma-separated flag value (or an array, from code) as a list of `item`s, at most `max`. */
function commaList<T extends z.ZodType>(item: T, max = 1_000) {
  return z.preprocess(
    (value) =>
      typeof value === 'string'
        ? value
            .split(',')
            .map((part) => part.trim())
            .filter((part) => part !== '')
        : value,
    z.array(item).max(max),
  );
}

/** Everything a hub needs to start. Values come from flags or SHELFSYNC_* variables, checked here. */
export const HubConfigSchema = z.strictObject({
  port: z.coerce.number().int().min(0).max(65535),
  host: z.string().min(1).default('127.0.0.1'),
  dataDir: z.string().min(1),
  /**
   * A PostgreSQL URL (postgres://USER@HOST:PORT/DB): the hub keeps every durable
   * record there instead of `<data>/hub.sqlite`, schema created and migrated on start.
   */
  database: z.url({ protocol: /^postgres(ql)?$/, error: 'a PostgreSQL URL: postgres://USER@HOST:PORT/DB' }).optional(),
  /** The store-token key given at start; more keys are added over the admin API (the hub's durable key set). */
  secret: z.string().min(MIN_SECRET_LENGTH, `the secret needs at least ${MIN_SECRET_LENGTH} characters`),
  /** Bearer tokens for reservation and admin calls, any of them valid (storefront reads are public). */
  apiTokens: z
    .array(z.string().min(MIN_SECRET_LENGTH, `the API token needs at least ${MIN_SECRET_LENGTH} characters`))
    .min(1),
  /** The file `apiTokens` came from, one token a line: the hub follows it, so a token is added or retired without a restart. */
  apiTokenFile: z.string().min(1).optional(),
  /** How long an unconfirmed online reservation holds its units. */
  reservationTtlMs: z.coerce.number().int().min(1_000).max(604_800_000).default(900_000),
  /** Sustained requests per second per client on the public reads; 0 turns the limit off. */
  rateLimit: z.coerce.number().int().min(0).max(1_000_000).default(100),
  /** Requests a client may make at once above the sustained rate. */
  rateLimitBurst: z.coerce.number().int().min(1).max(1_000_000).default(200),
  /** Storefront origins whose browsers may call the API (comma-separated). */
  corsOrigins: commaList(z.url().regex(/^https?:\/\/[^/]+$/, 'an origin: scheme://host[:port], no path')).default([]),
  /** A SKU document unused this long, with every update stored, leaves memory until next needed. */
  evictIdleMs: z.coerce.number().int().min(1_000).max(86_400_000).default(60_000),
  /** Above this many documents in memory, the least recently used idle ones leave early. */
  maxResidentDocs: z.coerce.number().int().min(1).default(10_000),
  /** The escrow allocator: on, it grants and reclaims POS rights by demand; off, rights stay where stores put them. */
  escrow: z.enum(['on', 'off']).default('on'),
  /** The demand horizon: the online escrow keeps online orders over this long, the POS the rest of the shelf. */
  escrowHorizonMs: z.coerce.number().int().min(60_000).max(604_800_000).default(14_400_000),
  /** Half-life of the sales-velocity estimate. */
  escrowHalfLifeMs: z.coerce.number().int().min(1_000).max(604_800_000).default(3_600_000),
  /** The POS's need whatever its velocity, when a scarce shelf is split between the channels. */
  escrowMinQuota: z.coerce.number().int().min(0).max(1_000_000).default(2),
  /** Units a location's online escrow keeps beyond its online orders over the horizon. */
  escrowOnlineFloor: z.coerce.number().int().min(0).max(1_000_000).default(1),
  /** Share of a location's online-demand estimate taken from the SKU's chain-wide online orders per location. */
  escrowOnlinePooling: z.coerce.number().min(0).max(1).default(0.5),
  /** How long an order the online escrow cannot cover waits for its store to release units (0: never ask). */
  reservationReleaseWaitMs: z.coerce.number().int().min(0).max(30_000).default(2_000),
  /**
   * The largest deficit a store may run up per SKU under the manager override
   * (`o - c`), checked on every store update: 0 (default) refuses any. Stores cap
   * themselves with their own --override-cap, which should not exceed this.
   */
  overrideCap: z.coerce.number().int().min(0).max(1_000_000).default(0),
  /**
   * TCP fault proxies in front of stores' links, for testers: `storeId=controlUrl`
   * pairs, comma-separated, each the control API of a `shelfsync proxy` on loopback.
   */
  faultProxies: z
    .preprocess(
      (value) =>
        typeof value === 'string'
          ? Object.fromEntries(
              value
                .split(',')
                .map((pair) => pair.trim())
                .filter((pair) => pair !== '')
                // A pair without "=" keeps its whole text as the address, which then fails as one.
                .map((pair) =>
                  pair.includes('=')
                    ? [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]
                    : [pair, pair],
                ),
            )
          : value,
      z.record(
        StoreIdSchema,
        z
          .url()
          .regex(
            /^http:\/\/(127\.0\.0\.1|localhost):\d+$/,
            'a proxy control address on loopback: http://127.0.0.1:PORT',
          ),
      ),
    )
    .default({}),
  /**
   * Connections one client address may hold open before authenticating (every
   * HTTP connection, event stream and document reader; not a store's
   * authenticated sync session). Loopback load tests share one address: keep it high.
   */
  maxConnectionsPerAddress: z.coerce.number().int().min(1).max(1_000_000).default(512),
  /** Open `GET /v1/events` streams per client address. */
  maxEventStreamsPerAddress: z.coerce.number().int().min(1).max(1_000_000).default(20),
  /** Open `GET /v1/events` streams in total. */
  maxEventStreams: z.coerce.number().int().min(1).max(1_000_000).default(2_000),
  /** Open `/yjs/<sku>` readers per client address. */
  maxYjsReadersPerAddress: z.coerce.number().int().min(1).max(1_000_000).default(32),
  /** Open `/yjs/<sku>` readers in total. */
  maxYjsReaders: z.coerce.number().int().min(1).max(1_000_000).default(256),
  /**
   * Reverse proxies in front of the hub (comma-separated IP addresses): for a
   * connection from one of them, the client is read from `X-Forwarded-For`, so the
   * read rate limit and the event-stream and reader caps count real clients.
   */
  trustedProxies: commaList(z.union([z.ipv4(), z.ipv6()]), 64).default([]),
  /** How often every followed (SKU, store) is rebalanced, besides on each update. */
  escrowRebalanceMs: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
});
export type HubConfig = z.infer<typeof HubConfigSchema>;
