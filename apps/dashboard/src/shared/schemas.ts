import { z } from 'zod/mini';

/**
 * What the pages read from the hub and the store, as tolerant readers: each
 * schema names the fields a page uses and checks their types, and lets new fields
 * through, so a hub that adds a field never breaks an open page. The servers'
 * strict schemas (packages/protocol/src/responses.ts) stay the contract; these
 * are checked against real answers by the browser tests.
 */

const Units = z.int();
const Time = z.string();

export const SkuLocationSchema = z.looseObject({
  location: z.string(),
  onShelf: Units,
  posRights: Units,
  onlineRights: Units,
  reserved: Units,
  /**
   * Units a manager's override sold beyond the store's rights, not yet covered,
   * and the reserved units there it may have sold. Optional: hubs older than the
   * manager override do not send them.
   */
  deficit: z.optional(Units),
  reservationsAtRisk: z.optional(Units),
});
export type SkuLocation = z.infer<typeof SkuLocationSchema>;

/** Hub: GET /v1/skus/:sku and each SSE `stock` event. */
export const SkuStockSchema = z.looseObject({
  sku: z.string(),
  available: Units,
  central: z.looseObject({ available: Units }),
  locations: z.array(SkuLocationSchema),
  updatedAt: z.nullable(Time),
  change: Units,
});
export type SkuStock = z.infer<typeof SkuStockSchema>;

/** Hub: GET /v1/skus */
export const SkuListSchema = z.looseObject({
  items: z.array(z.looseObject({ sku: z.string(), available: Units, updatedAt: z.nullable(Time) })),
  nextCursor: z.nullable(z.string()),
});

export const StoreLinkSchema = z.looseObject({
  storeId: z.string(),
  connected: z.boolean(),
  cut: z.optional(z.boolean()),
  lastSeen: Time,
  syncLagMs: z.optional(Units),
  pendingUpdates: z.optional(Units),
  rejectedUpdates: Units,
});
export type StoreLink = z.infer<typeof StoreLinkSchema>;

/** Hub: GET /v1/stores */
export const StoreLinksSchema = z.looseObject({ stores: z.array(StoreLinkSchema) });

const MinuteSchema = z.looseObject({
  minute: Time,
  sold: Units,
  /**
   * Sales refused, by cause. `hubUnreachable` and `topUpTimeout` are optional: hubs
   * that inferred refusals from top-up answers do not send them.
   */
  refused: z.looseObject({
    locationEmpty: Units,
    escrowHeld: Units,
    hubUnreachable: z.optional(Units),
    topUpTimeout: z.optional(Units),
  }),
  reservations: z.looseObject({ held: Units, confirmed: Units, cancelled: Units, expired: Units, refused: Units }),
});
export type Minute = z.infer<typeof MinuteSchema>;

export const RefusalSchema = z.looseObject({
  sku: z.string(),
  storeId: z.string(),
  at: Time,
  requested: Units,
  chainAvailable: Units,
  /** Why the store refused; any string, so a cause a newer hub adds still renders. Older hubs send none. */
  cause: z.optional(z.string()),
});
export type Refusal = z.infer<typeof RefusalSchema>;

/** Hub: GET /v1/summary */
export const ChainSummarySchema = z.looseObject({
  generatedAt: Time,
  minutes: z.array(MinuteSchema),
  refusedWithChainStock: z.array(RefusalSchema),
});
export type ChainSummary = z.infer<typeof ChainSummarySchema>;

const ClusterNodeSchema = z.looseObject({
  node: z.string(),
  url: z.nullable(z.string()),
  startedAt: Time,
  heartbeatAt: Time,
  alive: z.boolean(),
  /** Optional: hubs before per-node sessions do not send them. */
  stores: z.optional(Units),
  shards: z.optional(Units),
});
export type ClusterNode = z.infer<typeof ClusterNodeSchema>;

const ShardLeaseSchema = z.looseObject({
  shard: Units,
  node: z.nullable(z.string()),
  epoch: Units,
  expiresAt: Time,
  live: z.boolean(),
});
export type ShardLease = z.infer<typeof ShardLeaseSchema>;

/** Hub: GET /v1/cluster. `mode` is any string, so a mode a newer hub adds still renders. */
export const ClusterSchema = z.looseObject({
  mode: z.string(),
  node: z.string(),
  stores: Units,
  shardCount: Units,
  nodes: z.array(ClusterNodeSchema),
  shards: z.array(ShardLeaseSchema),
});
export type Cluster = z.infer<typeof ClusterSchema>;

/** GET /readyz (200) */
export const ReadySchema = z.looseObject({ status: z.string() });

/** Hub: POST /v1/admin/stores/:storeId/link */
export const LinkStateSchema = z.looseObject({
  storeId: z.string(),
  state: z.enum(['cut', 'restored']),
  connected: z.boolean(),
});

/** Store: GET /v1/skus/:sku */
export const StoreSkuSchema = z.looseObject({
  sku: z.string(),
  storeId: z.string(),
  rights: Units,
  onShelf: Units,
  available: Units,
  /** Stores holding only their share: when the hub's figure for the rest of the chain came (null: not yet). */
  availableAsOf: z.optional(z.nullable(Time)),
  hubConnected: z.boolean(),
  lastSyncedAt: z.nullable(Time),
  pendingSync: z.boolean(),
});
export type StoreSku = z.infer<typeof StoreSkuSchema>;

/** Store: GET /v1/status */
export const StoreStatusSchema = z.looseObject({
  storeId: z.string(),
  hub: z.looseObject({ connected: z.boolean(), lastSyncedAt: z.nullable(Time) }),
  ready: z.boolean(),
  pendingSync: Units,
});
export type StoreStatus = z.infer<typeof StoreStatusSchema>;

/** Store: a successful POST (sale, receipt, return, count). */
export const OperationResultSchema = z.looseObject({
  operation: z.string(),
  sku: z.string(),
  quantity: Units,
  rights: Units,
  onShelf: Units,
  available: Units,
});

/** Any RFC 9457 problem body the servers answer with. */
export const ProblemSchema = z.looseObject({
  status: z.number(),
  code: z.string(),
  detail: z.string(),
  details: z.optional(z.record(z.string(), z.unknown())),
});
export type Problem = z.infer<typeof ProblemSchema>;
