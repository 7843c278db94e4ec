import { z } from 'zod';
import { SkuSchema, StoreIdSchema } from './ids.js';

/** The WebSocket path stores sync on. */
export const SYNC_PATH = '/v1/sync';

/** Units in one request: a positive integer, at most a billion. */
export const QuantityInputSchema = z.int().min(1).max(1_000_000_000);

/** POST /v1/receipts, /v1/sales, /v1/returns on a store. */
export const StockMovementRequestSchema = z.strictObject({ sku: SkuSchema, quantity: QuantityInputSchema });
export type StockMovementRequest = z.infer<typeof StockMovementRequestSchema>;

/**
 * POST /v1/sales: a sale. `override: true` is the manager override: units
 * physically in hand sold beyond the POS's rights, recorded as a deficit capped
 * by the store's `--override-cap` (refused while the cap is 0).
 */
export const SaleRequestSchema = StockMovementRequestSchema.extend({ override: z.boolean().optional() });
export type SaleRequest = z.infer<typeof SaleRequestSchema>;

/** POST /v1/adjustments: a physical count of the store's shelf. */
export const AdjustmentRequestSchema = z.strictObject({ sku: SkuSchema, counted: z.int().min(0).max(1_000_000_000) });
export type AdjustmentRequest = z.infer<typeof AdjustmentRequestSchema>;

/** POST /v1/transfers: ship units to another store. */
export const TransferOutRequestSchema = z.strictObject({
  sku: SkuSchema,
  quantity: QuantityInputSchema,
  toStore: StoreIdSchema,
});
export type TransferOutRequest = z.infer<typeof TransferOutRequestSchema>;

/** POST /v1/transfers/receive: units shipped by another store arrived. */
export const TransferInRequestSchema = z.strictObject({
  sku: SkuSchema,
  quantity: QuantityInputSchema,
  fromStore: StoreIdSchema,
});
export type TransferInRequest = z.infer<typeof TransferInRequestSchema>;

/** The Idempotency-Key header: 1 to 200 printable ASCII characters. */
export const IdempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,200}$/, 'Idempotency-Key: 1-200 printable ASCII characters');

/** What every store operation answers with, on success. */
export const OperationResponseSchema = z.strictObject({
  operation: z.enum(['receive', 'sell', 'return', 'count', 'shipOut', 'receiveTransfer']),
  sku: SkuSchema,
  quantity: z.int(),
  /** What this store's POS may still sell. */
  rights: z.int(),
  /** Units on this store's shelf, as this store sees it. */
  onShelf: z.int(),
  /** Chain-wide uncommitted units, as last known here. */
  available: z.int(),
  /** Counts: units the count added (positive) or committed (negative), against this store's books. */
  delta: z.int().optional(),
  /** Sales under the manager override: units of this sale beyond the POS's rights (now owed). */
  overridden: z.int().min(0).optional(),
  /** Units this store owes under the manager override, not yet settled by the hub; present only while it owes any. */
  deficit: z.int().min(1).optional(),
});
export type OperationResponse = z.infer<typeof OperationResponseSchema>;

/**
 * Why a store refused a sale beyond its POS rights (the 409's `details.cause`,
 * the stores' `shelfsync_sales_refused_total{cause}`, the hub's chain summary).
 * Only `location_empty` is not an escrow matter: the shelf lacks the units.
 * `hub_unreachable`: the units sit in the store's online escrow and the hub was out
 * of reach; `online_escrow`: the hub answered, and the location's rights are
 * promised online; `topup_timeout`: the hub did not settle it within the wait.
 */
export const RefusalCauseSchema = z.enum(['location_empty', 'hub_unreachable', 'online_escrow', 'topup_timeout']);
export type RefusalCause = z.infer<typeof RefusalCauseSchema>;

/** POST /v1/reservations on the hub: hold units for an online order, for pickup at `storeId` or from anywhere. */
export const ReservationRequestSchema = z.strictObject({
  sku: SkuSchema,
  quantity: QuantityInputSchema,
  storeId: StoreIdSchema.optional(),
});
export type ReservationRequest = z.infer<typeof ReservationRequestSchema>;

/** Reservation ids: `r_` and 22 URL-safe characters. */
export const ReservationIdSchema = z.string().regex(/^r_[A-Za-z0-9_-]{22}$/, 'a reservation id (r_ and 22 characters)');

/** A reservation, as the hub answers it. */
export const ReservationSchema = z.strictObject({
  id: ReservationIdSchema,
  sku: SkuSchema,
  /** The store whose shelf holds the units, or `dc` for the central warehouse. */
  location: z.string(),
  quantity: z.int().min(1),
  /** held: units set aside until `expiresAt`; confirmed: picked up or shipped; cancelled/expired: units back on sale. */
  state: z.enum(['held', 'confirmed', 'cancelled', 'expired']),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
  closedAt: z.iso.datetime().nullable(),
  /**
   * Held, but the store sold units under the manager override that no online
   * rights could cover: these units may be gone from the shelf. Check before
   * promising pickup. Flagged newest first; cleared once the deficit is settled.
   */
  atRisk: z.boolean(),
});
export type Reservation = z.infer<typeof ReservationSchema>;

/** POST /v1/admin/stores/:storeId/link on the hub: cut a store's link (testers, drills) or restore it. */
export const LinkStateRequestSchema = z.strictObject({ state: z.enum(['cut', 'restored']) });
export type LinkStateRequest = z.infer<typeof LinkStateRequestSchema>;

/**
 * POST /v1/admin/keys on the hub: a secret to add to the store-token key set
 * (16+ characters; its key id is its fingerprint, the same `shelfsync token
 * --secret-file` signs with).
 */
export const AddKeyRequestSchema = z.strictObject({ secret: z.string().min(16).max(1024) });
export type AddKeyRequest = z.infer<typeof AddKeyRequestSchema>;

/**
 * POST /v1/admin/stores/:storeId/faults on the hub: a fault for the TCP fault proxy
 * in front of that store's link (`shelfsync proxy`, registered with
 * `--fault-proxies`). partition: connections dropped, new ones refused; hold:
 * connections open, no byte moves; restore: both end (and flapping stops);
 * degrade: latency with jitter and a bandwidth limit (0: none); flap: up and
 * reset in turn.
 */
export const FaultRequestSchema = z.discriminatedUnion('action', [
  z.strictObject({ action: z.enum(['partition', 'hold', 'restore']) }),
  z.strictObject({
    action: z.literal('degrade'),
    latencyMs: z.int().min(0).max(60_000).optional(),
    jitterMs: z.int().min(0).max(60_000).optional(),
    bandwidth: z.int().min(0).max(1_000_000_000).optional(),
  }),
  z.strictObject({
    action: z.literal('flap'),
    upMs: z.int().min(10).max(3_600_000),
    downMs: z.int().min(10).max(3_600_000),
  }),
]);
export type FaultRequest = z.infer<typeof FaultRequestSchema>;
