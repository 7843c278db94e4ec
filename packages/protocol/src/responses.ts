import { z } from 'zod';
import { RefusalCauseSchema } from './api.js';
import { ErrorCodeSchema } from './errors.js';

/** Ids as they go out: the same pattern as the inputs' SkuSchema and StoreIdSchema, unbranded. */
const SkuSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
const StoreIdSchema = SkuSchema;

/**
 * What the hub and the stores answer, as zod schemas: the source of truth for
 * docs/openapi.yaml (generated from them by `pnpm openapi`) and the types the
 * apps build their bodies with.
 */

const Units = z.int();
const Timestamp = z.iso.datetime();

/** GET /healthz */
export const HealthSchema = z.strictObject({ status: z.literal('ok') });
/** GET /readyz (200) */
export const ReadySchema = z.strictObject({ status: z.literal('ready') });

/** Hub: GET /v1/skus/:sku, and the data of each `stock` event. */
export const SkuStockSchema = z.strictObject({
  sku: SkuSchema,
  /** Units no one has committed, chain-wide (reserved units are committed). */
  available: Units,
  /** What the online channel can promise from the central warehouse. */
  central: z.strictObject({ available: Units }),
  locations: z.array(
    z.strictObject({
      location: StoreIdSchema,
      onShelf: Units,
      posRights: Units,
      onlineRights: Units,
      /** What an online customer can reserve for pickup there now. */
      reservable: Units,
      reserved: Units,
      /** Units the store sold under the manager override that no rights cover yet. */
      deficit: Units,
      /** Reserved units there that the deficit may have sold (flagged on the reservations). */
      reservationsAtRisk: Units,
    }),
  ),
  updatedAt: Timestamp.nullable(),
  /** The hub's change number of this version (also in the ETag). */
  change: z.int().min(0),
});
export type SkuStock = z.infer<typeof SkuStockSchema>;

/** Hub: GET /v1/stores/:storeId/skus/:sku */
export const StoreAvailabilitySchema = z.strictObject({
  sku: SkuSchema,
  storeId: StoreIdSchema,
  onShelf: Units,
  reservable: Units,
  posRights: Units,
  reserved: Units,
  deficit: Units,
  reservationsAtRisk: Units,
  available: Units,
  updatedAt: Timestamp,
  change: z.int().min(0),
});

/** Hub: GET /v1/skus */
export const SkuListSchema = z.strictObject({
  items: z.array(
    z.strictObject({
      sku: SkuSchema,
      available: Units,
      store: z.strictObject({ onShelf: Units, reservable: Units }).optional(),
      updatedAt: Timestamp.nullable(),
    }),
  ),
  /** Pass as `cursor` for the next page; null at the end. */
  nextCursor: z.string().nullable(),
});

/** Hub: GET /v1/cluster */
export const ClusterSchema = z.strictObject({
  /** `embedded`: one hub on its sql.js file; `postgresql`: a node of the hubs on one database. */
  mode: z.enum(['embedded', 'postgresql']),
  /** The node that answered. */
  node: z.string(),
  /** Store sync sessions live on the node that answered. */
  stores: z.int().min(0),
  /** Shards the SKUs hash to (0 when embedded: the one hub writes every SKU). */
  shardCount: z.int().min(0),
  nodes: z.array(
    z.strictObject({
      node: z.string(),
      url: z.string().nullable(),
      startedAt: Timestamp,
      heartbeatAt: Timestamp,
      /** Heard from within a lease's time. */
      alive: z.boolean(),
      /**
       * Store sync sessions live on the node: the answering node's now, the
       * others' as of their last heartbeat (about a second old), 0 for a node not alive.
       */
      stores: z.int().min(0),
      /** Shards whose lease the node holds, unexpired (0 when embedded). */
      shards: z.int().min(0),
    }),
  ),
  /** Each shard's lease: its owner (null while none holds it), the lease's epoch and when it runs out. */
  shards: z.array(
    z.strictObject({
      shard: z.int().min(0),
      node: z.string().nullable(),
      epoch: z.int().min(0),
      expiresAt: Timestamp,
      live: z.boolean(),
    }),
  ),
});

/** Hub: GET /v1/stores */
export const StoreLinksSchema = z.strictObject({
  stores: z.array(
    z.strictObject({
      storeId: StoreIdSchema,
      connected: z.boolean(),
      /** An operator cut the link: the hub refuses the store's connections until it is restored. */
      cut: z.boolean(),
      lastSeen: Timestamp,
      /**
       * How stale the hub's view of this store may be: 0 while connected and caught
       * up; while catching up, the time since it reconnected; offline, since last seen.
       */
      syncLagMs: z.int().min(0),
      /** SKUs the store reported changed at its last handshake that the hub has not received yet. */
      pendingUpdates: z.int().min(0),
      rejectedUpdates: z.int().min(0),
    }),
  ),
});

/** Hub: POST /v1/admin/stores/:storeId/link */
export const LinkStateSchema = z.strictObject({
  storeId: StoreIdSchema,
  state: z.enum(['cut', 'restored']),
  /** Whether the store holds a live session now (false right after a cut). */
  connected: z.boolean(),
});

/** A key of the hub's store-token key set, as GET/POST /v1/admin/keys list it: never its secret. */
export const KeyInfoSchema = z.strictObject({
  kid: z.string(),
  /** config: the key given with --secret; added: over POST /v1/admin/keys. */
  source: z.enum(['config', 'added']),
  /** retired: tokens it signed are refused, and sessions opened with them were closed. */
  state: z.enum(['active', 'retired']),
  addedAt: Timestamp,
  retiredAt: Timestamp.nullable(),
  /** Whether the hub verifies tokens with it now (a --secret key of an earlier start it no longer holds does not). */
  verifies: z.boolean(),
});
/** GET /v1/admin/keys */
export const KeyListSchema = z.strictObject({ keys: z.array(KeyInfoSchema) });

/** POST /v1/admin/stores/:storeId/revoke */
export const StoreRevocationSchema = z.strictObject({
  storeId: StoreIdSchema,
  /** Tokens of this store issued at or before this instant are refused; tokens issued after it work. */
  notBefore: Timestamp,
  /** Live sessions closed with 4401 by the revocation. */
  closedSessions: z.int().min(0),
});

/** Outcomes of online reservation calls, counted per minute in the chain summary. */
const ReservationCounts = z.strictObject({
  held: Units.min(0),
  confirmed: Units.min(0),
  cancelled: Units.min(0),
  expired: Units.min(0),
  /** Refused, mostly INSUFFICIENT_STOCK. */
  refused: Units.min(0),
});

/**
 * Hub: GET /v1/summary. Chain activity by minute as the hub sees it: units
 * committed at stores' POS (from their merged totals), sales the stores refused
 * for want of rights, by cause (as they report them: a store cut off reports its
 * refusals once it is back, with their own time), and reservations; plus the
 * latest refusals made while the chain still had the units. Kept in memory since
 * the hub started.
 */
export const ChainSummarySchema = z.strictObject({
  generatedAt: Timestamp,
  /** The last 30 minutes, oldest first, each by the minute it starts. */
  minutes: z.array(
    z.strictObject({
      minute: Timestamp,
      /** Units committed at stores' POS accounts (sales, ship-outs, counts below the books). */
      sold: Units.min(0),
      /**
       * Sales the stores refused for want of rights, by cause: `locationEmpty` the
       * store's shelf lacked the units (not an escrow matter); `escrowHeld` the hub
       * answered and the location's rights are promised online (`online_escrow`);
       * `hubUnreachable` the units sat in the online escrow with the hub out of the
       * store's reach; `topUpTimeout` a top-up did not settle within the store's wait.
       */
      refused: z.strictObject({
        locationEmpty: Units.min(0),
        escrowHeld: Units.min(0),
        hubUnreachable: Units.min(0),
        topUpTimeout: Units.min(0),
      }),
      reservations: ReservationCounts,
    }),
  ),
  /** Refusals while the chain had enough units, newest first (at most 50). */
  refusedWithChainStock: z.array(
    z.strictObject({
      sku: SkuSchema,
      storeId: StoreIdSchema,
      /** When the store refused (its clock, within the last 30 minutes of the hub's). */
      at: Timestamp,
      requested: Units.min(1),
      /** Units uncommitted chain-wide: in the hub's document when it holds the SKU, else as the store knew them. */
      chainAvailable: Units,
      /** Why: `location_empty` means the units were at another location, not an escrow failure. */
      cause: RefusalCauseSchema,
    }),
  ),
});
export type ChainSummary = z.infer<typeof ChainSummarySchema>;

/** Store: GET /v1/skus/:sku */
export const StoreSkuSchema = z.strictObject({
  sku: SkuSchema,
  storeId: StoreIdSchema,
  /** What this store's POS may still sell. */
  rights: Units,
  onShelf: Units,
  /** Chain-wide, as last known here. */
  available: Units,
  /**
   * A store that holds only its share of each document (sync protocol 7) counts the
   * other locations from the hub's availability summary: when that figure came,
   * or null before one came (`available` is then this location's units only).
   */
  availableAsOf: Timestamp.nullable().optional(),
  /** Units this store owes under the manager override, not yet settled by the hub; present only while it owes any. */
  deficit: z.int().min(1).optional(),
  hubConnected: z.boolean(),
  lastSyncedAt: Timestamp.nullable(),
  /** Local changes of this SKU the hub has not acknowledged yet. */
  pendingSync: z.boolean(),
});

/** Hub and store: GET /v1/skus/:sku/ledger, one replica's whole view of a SKU (for checkers and operators). */
export const SkuLedgerSchema = z.strictObject({
  sku: SkuSchema,
  /** Units ever added (receipts, returns, transfers in, cancelled reservations, count surplus). */
  added: Units,
  /** Units ever committed (sales, shipments out, reservations, count shortfall). */
  committed: Units,
  /** added - committed: units no one has committed. */
  value: Units,
  /** Rights of every account, by account id (store:X, online:X, online:dc). */
  rights: z.record(z.string(), Units),
  /** The replica's Yjs state vector, base64: replicas with equal vectors hold the same operations. */
  stateVector: z.string(),
  /** Store accounts owing units under the manager override, by account: they may be below zero by this much. */
  owed: z.record(z.string(), z.int().min(1)),
  /**
   * A store that holds only its share of the document (sync protocol 7): its
   * location. Only that location's accounts are its to show; the totals, the
   * other accounts and the state vector are of its share, not the chain's.
   */
  share: StoreIdSchema.optional(),
});
export type SkuLedger = z.infer<typeof SkuLedgerSchema>;

/** Hub: GET and POST /v1/admin/stores/:storeId/faults, the fault proxy's state for that store's link. */
export const FaultProxyStatusSchema = z.strictObject({
  storeId: StoreIdSchema,
  /** up: traffic flows; held: connections open, no byte moves; reset: connections dropped, new ones refused. */
  state: z.enum(['up', 'held', 'reset']),
  /** Connections through the proxy now. */
  connections: z.int().min(0),
  latencyMs: z.int().min(0),
  jitterMs: z.int().min(0),
  /** Bytes per second per direction; 0: unlimited. */
  bandwidth: z.int().min(0),
});

/**
 * Why a store is not connected to its hub, and what it does about it. The
 * credential kinds (unauthorized, token-expired, token-unreadable) and forbidden,
 * unsupported-protocol, replaced (another process holds this store's token) and
 * protocol-error (a session closed for breaking the protocol) cannot heal by
 * retrying (their close codes are stop-and-alert): the store waits long between
 * attempts (and re-reads its --token-file), so it never hammers the hub.
 */
export const HubLinkProblemSchema = z.strictObject({
  kind: z.enum([
    'unreachable',
    'closed',
    'unauthorized',
    'token-expired',
    'token-unreadable',
    'forbidden',
    'unsupported-protocol',
    'replaced',
    'protocol-error',
    'link-cut',
  ]),
  /** One sentence for a person: what happened and what fixes it. */
  detail: z.string(),
  since: Timestamp,
  /** When the store tries again; null while it waits for nothing (stopped). */
  nextAttemptAt: Timestamp.nullable(),
  /** The WebSocket close code or HTTP status the hub answered with, if any. */
  status: z.int().nullable(),
});

/** Store: GET /v1/status */
export const StoreStatusSchema = z.strictObject({
  storeId: StoreIdSchema,
  hub: z.strictObject({
    /** `--hub` as given: the hub's address, or its nodes' addresses comma-separated. */
    url: z.string(),
    /** The node of that list this store is connected to, or tries next. */
    node: z.string(),
    connected: z.boolean(),
    caughtUp: z.boolean(),
    lastSyncedAt: Timestamp.nullable(),
    cursor: z.int().min(0),
    /** Why the link is down, while it is (null while connected or not yet tried). */
    problem: HubLinkProblemSchema.nullable(),
    /** When the store's token expires, read from the token itself; null for a token it cannot read. */
    tokenExpiresAt: Timestamp.nullable(),
  }),
  /** Taking writes: storage healthy and, for a new replica, its first sync done. */
  ready: z.boolean(),
  firstSyncDone: z.boolean(),
  storage: z.enum(['ok', 'failed']),
  skus: z.int().min(0),
  pendingSync: z.int().min(0),
  rejected: z.array(
    z.strictObject({
      sku: z.string(),
      code: ErrorCodeSchema,
      detail: z.string(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
});
