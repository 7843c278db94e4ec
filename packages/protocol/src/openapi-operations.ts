import { z } from 'zod';
import {
  AddKeyRequestSchema,
  AdjustmentRequestSchema,
  LinkStateRequestSchema,
  FaultRequestSchema,
  ReservationIdSchema,
  ReservationRequestSchema,
  ReservationSchema,
  SaleRequestSchema,
  StockMovementRequestSchema,
  TransferInRequestSchema,
  TransferOutRequestSchema,
  OperationResponseSchema,
} from './api.js';
import {
  ChainSummarySchema,
  ClusterSchema,
  FaultProxyStatusSchema,
  HealthSchema,
  KeyInfoSchema,
  KeyListSchema,
  LinkStateSchema,
  StoreRevocationSchema,
  ReadySchema,
  SkuLedgerSchema,
  SkuListSchema,
  SkuStockSchema,
  StoreAvailabilitySchema,
  StoreLinksSchema,
  StoreSkuSchema,
  StoreStatusSchema,
} from './responses.js';

/** One documented operation; the zod schemas are the source of truth for its bodies. */
export interface ApiOperation {
  readonly method: 'get' | 'post';
  /** OpenAPI path template, e.g. `/v1/skus/{sku}`. */
  readonly path: string;
  readonly summary: string;
  readonly auth?: 'apiToken';
  readonly idempotent?: boolean;
  readonly pathParams?: Readonly<Record<string, z.ZodType>>;
  readonly query?: Readonly<Record<string, { schema: z.ZodType; description: string }>>;
  readonly headers?: Readonly<Record<string, { schema: z.ZodType; description: string }>>;
  readonly body?: z.ZodType;
  /** Success status -> body schema (null: no body; a string: a non-JSON media type). */
  readonly responses: Readonly<Record<number, z.ZodType | null | { mediaType: string; description: string }>>;
  /** Error statuses it answers with problem+json. */
  readonly problems: readonly number[];
  /** A request that works against a fresh demo, for docs and the contract test. */
  readonly example?: { readonly path: string; readonly body?: unknown };
}

const Id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
const sku = { sku: Id.describe('a SKU') };
const idempotencyKey = {
  'Idempotency-Key': {
    schema: z.string().regex(/^[\x21-\x7e]{1,200}$/),
    description: 'A retry with the same key gets the first answer (Idempotent-Replayed: true) and is applied once',
  },
};
const common = [400, 404, 405, 413, 415, 422, 500];

const storeMutation = (path: string, summary: string, body: z.ZodType, example: unknown): ApiOperation => ({
  method: 'post',
  path,
  summary,
  idempotent: true,
  headers: idempotencyKey,
  body,
  responses: { 201: OperationResponseSchema },
  problems: [...common, 409, 503],
  example: { path, body: example },
});

/** A sale may carry the manager's token, which the override needs (401 without it). */
const withManagerToken = (op: ApiOperation): ApiOperation => ({
  ...op,
  headers: {
    ...op.headers,
    'X-Manager-Token': {
      schema: z.string(),
      description: 'The store\'s manager token (--manager-token): required with "override": true',
    },
  },
  problems: [...op.problems, 401],
});

const healthOperation: ApiOperation = {
  method: 'get',
  path: '/healthz',
  summary: 'The process serves HTTP.',
  responses: { 200: HealthSchema },
  problems: [],
  example: { path: '/healthz' },
};

const readyOperation: ApiOperation = {
  method: 'get',
  path: '/readyz',
  summary: 'Taking writes: storage healthy and, for a new replica, its first sync done.',
  responses: { 200: ReadySchema },
  problems: [503],
  example: { path: '/readyz' },
};

const metricsOperation: ApiOperation = {
  method: 'get',
  path: '/metrics',
  summary: 'Prometheus metrics (docs/operations.md).',
  responses: { 200: { mediaType: 'text/plain', description: 'Prometheus text exposition format' } },
  problems: [],
};

/**
 * A hub whose storage failed answers every call but /healthz and /metrics with
 * 503 STORAGE_UNAVAILABLE until it is restarted (docs/durability.md).
 */
const servedOnlyWithHealthyStorage = (ops: readonly ApiOperation[]): readonly ApiOperation[] =>
  ops.map((op) =>
    op.path === '/healthz' || op.path === '/metrics' || op.problems.includes(503)
      ? op
      : { ...op, problems: [...op.problems, 503] },
  );

/** The hub's HTTP API. */
export const hubOperations: readonly ApiOperation[] = servedOnlyWithHealthyStorage([
  {
    method: 'get',
    path: '/v1/skus/{sku}',
    summary:
      'Merged stock of a SKU: chain-wide, per store, central. Strong ETag (valid until the SKU changes or the hub restarts); If-None-Match answers 304.',
    pathParams: sku,
    headers: { 'If-None-Match': { schema: z.string(), description: 'An ETag from an earlier read' } },
    responses: { 200: SkuStockSchema, 304: null },
    problems: [400, 404, 429],
    example: { path: '/v1/skus/MUG-BLUE' },
  },
  {
    method: 'get',
    path: '/v1/skus/{sku}/ledger',
    summary:
      "The hub's whole view of a SKU: totals, every account's rights and its Yjs state vector (to compare replicas).",
    auth: 'apiToken',
    pathParams: sku,
    responses: { 200: SkuLedgerSchema },
    problems: [400, 401, 404, 429],
  },
  {
    method: 'get',
    path: '/v1/skus',
    summary: 'The catalog in SKU order, by cursor; filtered by store and in-stock.',
    query: {
      cursor: { schema: z.string(), description: 'nextCursor of the previous page' },
      limit: { schema: z.int().min(1).max(200).default(50), description: 'items per page' },
      store: { schema: Id, description: 'only SKUs this store holds' },
      inStock: { schema: z.enum(['true', 'false']), description: 'only SKUs with (or without) stock' },
    },
    responses: { 200: SkuListSchema },
    problems: [400, 429],
    example: { path: '/v1/skus?limit=5' },
  },
  {
    method: 'get',
    path: '/v1/stores/{storeId}/skus/{sku}',
    summary: 'Available at one store: on shelf, reservable for pickup.',
    pathParams: { storeId: Id, ...sku },
    responses: { 200: StoreAvailabilitySchema, 304: null },
    problems: [400, 404, 429],
    example: { path: '/v1/stores/north/skus/MUG-BLUE' },
  },
  {
    method: 'get',
    path: '/v1/stores',
    summary: 'Every store the hub has heard from: connected, last seen, refused updates.',
    responses: { 200: StoreLinksSchema },
    problems: [429],
    example: { path: '/v1/stores' },
  },
  {
    method: 'get',
    path: '/v1/cluster',
    summary:
      'The hub nodes on this database, which node owns each shard of SKUs and under which lease epoch, and the store sessions of the node that answers.',
    responses: { 200: ClusterSchema },
    problems: [],
    example: { path: '/v1/cluster' },
  },
  {
    method: 'get',
    path: '/v1/summary',
    summary:
      'Chain activity by minute (units committed at POS, sales the stores report they refused, by cause, reservations) and the latest refusals made while the chain had stock, with their cause.',
    responses: { 200: ChainSummarySchema },
    problems: [429],
    example: { path: '/v1/summary' },
  },
  {
    method: 'post',
    path: '/v1/admin/stores/{storeId}/link',
    summary:
      "Cut a store's link (its session closes with 4503 and its reconnections are refused, so it sells from local quota) or restore it. Lasts until restored or the hub restarts.",
    auth: 'apiToken',
    pathParams: { storeId: Id },
    body: LinkStateRequestSchema,
    responses: { 200: LinkStateSchema },
    problems: [400, 401, 404, 405, 413, 415, 500],
    example: { path: '/v1/admin/stores/central/link', body: { state: 'restored' } },
  },
  {
    method: 'post',
    path: '/v1/admin/stores/{storeId}/revoke',
    summary:
      'Revoke every token of a store issued until now (its not-before becomes now, durably): its live session closes with 4401 at once and its reconnections are refused with 401; tokens issued afterwards work.',
    auth: 'apiToken',
    pathParams: { storeId: Id },
    responses: { 200: StoreRevocationSchema },
    problems: [400, 401, 405, 500],
  },
  {
    method: 'get',
    path: '/v1/admin/keys',
    summary:
      'The store-token key set: each key id (the fingerprint of its secret), where it came from, and whether it is active. Never a secret.',
    auth: 'apiToken',
    responses: { 200: KeyListSchema },
    problems: [401],
    example: { path: '/v1/admin/keys' },
  },
  {
    method: 'post',
    path: '/v1/admin/keys',
    summary:
      'Add a secret to the key set (201; 200 if it is there already): tokens signed with it (shelfsync token --secret-file) are accepted from now on, next to those of the other active keys.',
    auth: 'apiToken',
    body: AddKeyRequestSchema,
    responses: { 200: KeyInfoSchema, 201: KeyInfoSchema },
    problems: [400, 401, 405, 413, 415, 500],
    example: { path: '/v1/admin/keys', body: { secret: 'an-example-secret-of-the-docs-0123' } },
  },
  {
    method: 'post',
    path: '/v1/admin/keys/{kid}/retire',
    summary:
      'Retire a key for good: tokens it signed are refused with 401 and live sessions opened with them close with 4401 at once. The last active key cannot be retired (400).',
    auth: 'apiToken',
    pathParams: {
      kid: z
        .string()
        .regex(/^k[A-Za-z0-9_-]{16}$/)
        .describe('a key id'),
    },
    responses: { 200: KeyInfoSchema },
    problems: [400, 401, 404, 405, 500],
  },
  {
    method: 'get',
    path: '/v1/admin/stores/{storeId}/faults',
    summary: "The state of the TCP fault proxy in front of a store's link (registered with --fault-proxies).",
    auth: 'apiToken',
    pathParams: { storeId: Id },
    responses: { 200: FaultProxyStatusSchema },
    problems: [400, 401, 404, 502],
  },
  {
    method: 'post',
    path: '/v1/admin/stores/{storeId}/faults',
    summary:
      "Inject a fault on a store's link through its TCP fault proxy: partition, hold, restore, degrade (latency, jitter, bandwidth) or flap.",
    auth: 'apiToken',
    pathParams: { storeId: Id },
    body: FaultRequestSchema,
    responses: { 200: FaultProxyStatusSchema },
    problems: [400, 401, 404, 405, 413, 415, 502],
  },
  {
    method: 'get',
    path: '/v1/events',
    summary:
      'Server-Sent Events: `stock` events (data: the SKU read body; id: epoch.change) per changed SKU, coalesced every 100 ms. Last-Event-ID replays what changed since; `reset` when it is from other data. Open streams are capped per client address and in total (--max-event-streams-per-address, --max-event-streams): past a cap, 429 TOO_MANY_CONNECTIONS with Retry-After.',
    query: { sku: { schema: z.array(Id).max(100), description: 'only these SKUs (repeatable)' } },
    headers: { 'Last-Event-ID': { schema: z.string(), description: 'resume after this event' } },
    responses: { 200: { mediaType: 'text/event-stream', description: 'an endless stream of events' } },
    problems: [400, 429],
  },
  {
    method: 'post',
    path: '/v1/reservations',
    summary:
      'Hold units for an online order: from online:<storeId> (pickup) or the location with the most online rights.',
    auth: 'apiToken',
    idempotent: true,
    headers: idempotencyKey,
    body: ReservationRequestSchema,
    responses: { 201: ReservationSchema },
    problems: [...common, 401, 409],
    example: { path: '/v1/reservations', body: { sku: 'MUG-BLUE', quantity: 1 } },
  },
  {
    method: 'get',
    path: '/v1/reservations/{id}',
    summary: 'A reservation and its state.',
    auth: 'apiToken',
    pathParams: { id: ReservationIdSchema },
    responses: { 200: ReservationSchema },
    problems: [400, 401, 404],
  },
  {
    method: 'post',
    path: '/v1/reservations/{id}/confirm',
    summary: 'The units were picked up or shipped. Confirming twice answers the same.',
    auth: 'apiToken',
    pathParams: { id: ReservationIdSchema },
    responses: { 200: ReservationSchema },
    problems: [400, 401, 404, 409],
  },
  {
    method: 'post',
    path: '/v1/reservations/{id}/cancel',
    summary: 'The units go back on sale. Cancelling twice answers the same.',
    auth: 'apiToken',
    pathParams: { id: ReservationIdSchema },
    responses: { 200: ReservationSchema },
    problems: [400, 401, 404, 409],
  },
  healthOperation,
  {
    ...readyOperation,
    summary: 'Storage is loaded (the hub listens only then) and has not failed since.',
    problems: [],
  },
  metricsOperation,
]);

/** A store node's local POS API. */
export const storeOperations: readonly ApiOperation[] = [
  storeMutation('/v1/receipts', 'Units received from a supplier.', StockMovementRequestSchema, {
    sku: 'MUG-BLUE',
    quantity: 2,
  }),
  withManagerToken(
    storeMutation(
      '/v1/sales',
      'A sale. Beyond local rights and connected, it waits (--top-up-wait-ms) for a top-up; else 409 INSUFFICIENT_RIGHTS. With "override": true (manager override, --override-cap above 0, X-Manager-Token) units in hand are sold beyond rights as a capped deficit; past the cap 409 OVERRIDE_CAP_EXCEEDED.',
      SaleRequestSchema,
      { sku: 'MUG-BLUE', quantity: 1 },
    ),
  ),
  storeMutation('/v1/returns', 'A customer return.', StockMovementRequestSchema, { sku: 'MUG-BLUE', quantity: 1 }),
  storeMutation('/v1/adjustments', 'A physical count; books the difference.', AdjustmentRequestSchema, {
    sku: 'MUG-BLUE',
    counted: 10,
  }),
  storeMutation('/v1/transfers', 'Units shipped to another store.', TransferOutRequestSchema, {
    sku: 'MUG-BLUE',
    quantity: 1,
    toStore: 'central',
  }),
  storeMutation('/v1/transfers/receive', 'Units from another store arrived.', TransferInRequestSchema, {
    sku: 'MUG-BLUE',
    quantity: 1,
    fromStore: 'central',
  }),
  {
    method: 'get',
    path: '/v1/skus/{sku}',
    summary:
      "This store's rights and shelf, and chain-wide stock as last known here; a SKU the store does not carry reads 404 until the hub's figure of it came, then rights and shelf 0.",
    pathParams: sku,
    responses: { 200: StoreSkuSchema },
    problems: [400, 404, 503],
    example: { path: '/v1/skus/MUG-BLUE' },
  },
  {
    method: 'get',
    path: '/v1/skus/{sku}/ledger',
    summary:
      "This store's whole view of a SKU: totals, every account's rights and its Yjs state vector (to compare replicas).",
    pathParams: sku,
    responses: { 200: SkuLedgerSchema },
    problems: [400, 404, 503],
    example: { path: '/v1/skus/MUG-BLUE/ledger' },
  },
  {
    method: 'get',
    path: '/v1/status',
    summary: 'Readiness, hub link, SKUs, pending sync, refused updates.',
    responses: { 200: StoreStatusSchema },
    problems: [],
    example: { path: '/v1/status' },
  },
  healthOperation,
  readyOperation,
  metricsOperation,
];
