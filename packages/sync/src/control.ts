import { ErrorCodeSchema, RefusalCauseSchema, SkuSchema, StoreIdSchema } from '@shelfsync/protocol';
import { z } from 'zod';

/**
 * The sync protocol version this code speaks; sent in the handshake. 2 added
 * top-ups and releases, 3 the override cap, 4 the store's clock on a top-up and
 * the store's rights at the hub in its answer, 5 the store's report of a refused
 * sale (`refused`) and the hub's clock on a release, 6 a store that reads SKU
 * documents of schema version 2 (ADR 0021), 7 a store that holds only its share
 * of each document and learns the hub's change cursor from `cursor` messages
 * (ADR 0022).
 */
export const PROTOCOL_VERSION = 7;

/**
 * The first protocol whose stores read schema version 2. An older store is sent
 * every document as version 1 has it: without the ids of version 2's entries,
 * with the `hub` entry kept current while it is connected, and hub clocks only
 * of the id that writes `hub` (docs/protocol.md, "Versions").
 */
export const SCHEMA_2_PROTOCOL = 6;

/**
 * The first protocol whose stores hold only their share of each document: their
 * own entries, their location's online account and `meta` (ADR 0022). Such a
 * store is sent only the updates and step 2s of its share, and `cursor`
 * messages for the changes it is not sent. An older store gets every update.
 */
export const SHARE_PROTOCOL = 7;

/**
 * The protocol a store speaks unless told otherwise: 7, its share of each
 * document (ADR 0022). A store can still be pinned to 6 (a whole replica) or
 * older, and the hub serves each the view it speaks.
 */
export const STORE_PROTOCOL = SHARE_PROTOCOL;

/**
 * The oldest protocol this code still speaks: a hub takes stores from
 * MIN_PROTOCOL_VERSION to PROTOCOL_VERSION and speaks each one's version, so a
 * chain upgrades its hub first, then its stores one at a time (docs/protocol.md,
 * "Versions").
 */
export const MIN_PROTOCOL_VERSION = 4;

const Cursor = z.int().min(0);

/**
 * The longest SKU list a peer may send (the welcome's `changed`, the hello's
 * `dirtyTotal`): the largest catalog the protocol carries. The frame caps bind
 * first in practice: a hub reads frames up to 2 MiB (at least 4 bytes a SKU in
 * JSON, so ≤ 524,288 SKUs), a store up to 8 MiB.
 */
export const MAX_SKU_LIST = 1_000_000;

/**
 * The most dirty SKUs a hello lists. A store with more (or whose list would not
 * fit HELLO_DIRTY_BYTES) lists the first ones and sends the count in
 * `dirtyTotal`; it still syncs every dirty SKU, re-reading its own dirty set.
 */
export const MAX_HELLO_DIRTY = 100_000;

/** Bytes of SKU names a hello lists at most, half the hub's 2 MiB frame cap (64-character SKUs: ~15,600 of them). */
export const HELLO_DIRTY_BYTES = 1024 * 1024;

/**
 * Store -> hub, first frame of every connection. `cursor` and `epoch` are the
 * hub change cursor the store last caught up to (0 and null before its first
 * sync); `dirty` the SKUs with local changes the hub may not hold, and
 * `dirtyTotal` how many there are when `dirty` lists only the first of them.
 */
export const HelloSchema = z.strictObject({
  type: z.literal('hello'),
  protocol: z.int(),
  storeId: StoreIdSchema,
  epoch: z.string().max(64).nullable(),
  cursor: Cursor,
  dirty: z.array(SkuSchema).max(MAX_HELLO_DIRTY),
  dirtyTotal: z.int().min(0).max(MAX_SKU_LIST).optional(),
});

/**
 * Hub -> store, the answer to hello. `changed` lists the SKUs changed at the hub
 * after the store's cursor (every SKU when the epochs differ); the store then
 * syncs `changed ∪ dirty` and records `cursor` once that is done.
 */
export const WelcomeSchema = z.strictObject({
  type: z.literal('welcome'),
  protocol: z.int(),
  epoch: z.string().max(64),
  cursor: Cursor,
  changed: z.array(SkuSchema).max(MAX_SKU_LIST),
  /** The largest manager-override deficit the hub accepts per store account: stores cap themselves at most at this. */
  overrideCap: z.int().min(0),
});

/**
 * Hub -> store: every DOC frame with a reference up to `ref` has been processed
 * (applied and durable, or refused). `change` is the change number the frame
 * `ref` produced at the hub, when it changed anything.
 */
export const AckSchema = z.strictObject({
  type: z.literal('ack'),
  ref: z.int().min(1),
  change: z.int().min(1).optional(),
  /** Protocol 7: what a `cursor` message would say, when it moved since the store was last told. */
  cursor: Cursor.optional(),
});

/** Either way: a coded error, about one frame (`ref`, `sku`) or the session. */
export const ErrorMessageSchema = z.strictObject({
  type: z.literal('error'),
  code: ErrorCodeSchema,
  detail: z.string().max(2000),
  sku: SkuSchema.optional(),
  ref: z.int().min(1).optional(),
});

const Units = z.int().min(0).max(1_000_000_000);

/**
 * Store -> hub: a sale of `quantity` units exceeds the store's rights of `sku`;
 * the store asks for a top-up from its online escrow, and waits a bounded time.
 * `client` and `clock` name the store's own changes of the SKU so far (its Yjs
 * client id and the next clock after its latest change): the hub decides only once
 * its document holds them, so it never judges on sales it has not seen yet.
 */
export const TopUpSchema = z.strictObject({
  type: z.literal('topup'),
  ref: z.int().min(1),
  sku: SkuSchema,
  quantity: Units.min(1),
  client: z.int().min(0).max(0xffff_ffff),
  clock: z.int().min(0),
});

/**
 * Hub -> store, the answer to `topup`, sent after the update that grants the
 * rights (if any): `granted` units moved online:X > store:X; `available` is what
 * the location held in all (POS and online escrow) when the hub decided;
 * `rights` what the store's POS account holds at the hub after the decision,
 * granted now or earlier. `client` and `clock` name the hub's own changes of the
 * SKU up to this answer (its Yjs client id and the next clock): the store judges
 * the sale again on its document once it holds them, within its wait.
 */
export const TopUpResultSchema = z.strictObject({
  type: z.literal('topup-result'),
  ref: z.int().min(1),
  sku: SkuSchema,
  granted: Units,
  available: Units,
  rights: Units,
  client: z.int().min(0).max(0xffff_ffff),
  clock: z.int().min(0),
});

/**
 * Hub -> store: the location's online escrow of `sku` needs rights the POS
 * holds; the store should move what it holds above `target` to its online
 * escrow (store:X > online:X, written by the store from its own latest state,
 * so a repeated request moves nothing more). `client` and `clock` name the
 * hub's own changes of the SKU the request was decided on: the store judges
 * once its document holds them (a bounded wait), so a grant still on its way
 * is not released as surplus before it lands and taken back after.
 */
export const ReleaseSchema = z.strictObject({
  type: z.literal('release'),
  sku: SkuSchema,
  target: Units,
  client: z.int().min(0).max(0xffff_ffff).optional(),
  clock: z.int().min(0).optional(),
});

/** The latest epoch ms a Date can hold. */
const MAX_EPOCH_MS = 8_640_000_000_000_000;

/**
 * Store -> hub, telemetry: the store refused a sale of `quantity` units of `sku`
 * for want of rights, for `cause`, at `at` (the store's clock, epoch ms: a refusal
 * made while cut off arrives later, with its own time). `chainAvailable` is what
 * the store last knew as uncommitted chain-wide. Best effort, never answered, and
 * trusted by the hub for display only: it clamps `at`, prefers its own document's
 * figures, and drops what exceeds the session's report budget.
 */
export const RefusedSchema = z.strictObject({
  type: z.literal('refused'),
  sku: SkuSchema,
  quantity: Units.min(1),
  cause: RefusalCauseSchema,
  at: z.int().min(0).max(MAX_EPOCH_MS),
  chainAvailable: Units.optional(),
});

/**
 * Hub -> store (protocol 7): every change up to `cursor` that the store's share
 * holds has been sent to it before this message, so the store's cursor may move
 * up to it over the changes it was not sent. A store that sells hears it in its
 * acknowledgements (`ack.cursor`); an idle one in this message, every minute or
 * so, and only when it moved: a store that resumes from an older cursor only
 * exchanges a few more SKUs.
 */
export const CursorMessageSchema = z.strictObject({
  type: z.literal('cursor'),
  cursor: Cursor,
});

/** SKUs one `available` message lists at most; a flush with more sends several. */
export const MAX_AVAILABLE_LIST = 5_000;

/** SKUs a store may follow on one connection; past it the hub answers a follow once. */
export const MAX_FOLLOWED = 10_000;

/**
 * Hub -> store (protocol 7): the availability summary. For each SKU, the units
 * uncommitted at every other location than the store's (the chain's value less
 * its location's rights, which the store counts itself from its share), for the
 * SKUs it follows that changed since the last summary, and those it just asked
 * for. Coalesced: one message per store every few seconds, none when nothing it
 * follows changed.
 */
export const AvailableSchema = z.strictObject({
  type: z.literal('available'),
  skus: z.array(z.tuple([SkuSchema, z.int().min(-1_000_000_000_000).max(1_000_000_000_000)])).max(MAX_AVAILABLE_LIST),
});

/**
 * Store -> hub (protocol 7): tell me the availability of `skus` now, and
 * whenever they change for as long as this connection lasts (the
 * store's console shows them).
 */
export const FollowSchema = z.strictObject({
  type: z.literal('follow'),
  skus: z.array(SkuSchema).max(MAX_AVAILABLE_LIST),
});

export const ControlMessageSchema = z.discriminatedUnion('type', [
  HelloSchema,
  WelcomeSchema,
  AckSchema,
  ErrorMessageSchema,
  TopUpSchema,
  TopUpResultSchema,
  ReleaseSchema,
  RefusedSchema,
  CursorMessageSchema,
  AvailableSchema,
  FollowSchema,
]);
export type ControlMessage = z.infer<typeof ControlMessageSchema>;
export type Hello = z.infer<typeof HelloSchema>;
export type Welcome = z.infer<typeof WelcomeSchema>;
export type Ack = z.infer<typeof AckSchema>;
export type ErrorMessage = z.infer<typeof ErrorMessageSchema>;
export type TopUp = z.infer<typeof TopUpSchema>;
export type TopUpResult = z.infer<typeof TopUpResultSchema>;
export type Release = z.infer<typeof ReleaseSchema>;
export type Refused = z.infer<typeof RefusedSchema>;
export type CursorMessage = z.infer<typeof CursorMessageSchema>;
export type Available = z.infer<typeof AvailableSchema>;

/**
 * A message as a peer speaking `version` must see it: what that version lacks is
 * left out (its schemas are strict, so an unknown field would be a protocol
 * error there), and a message it does not know is not sent (null).
 */
export function forProtocol(message: ControlMessage, version: number): ControlMessage | null {
  if (version >= SHARE_PROTOCOL) return message;
  // Older stores are sent every change: their cursor moves without it.
  if (message.type === 'cursor' || message.type === 'available' || message.type === 'follow') return null;
  if (message.type === 'ack' && message.cursor !== undefined) {
    const { cursor: _cursor, ...ack } = message;
    return ack;
  }
  if (version >= SCHEMA_2_PROTOCOL) return message;
  // A release's hub clock may name a version 2 id, which an older store never holds: it judges at once, as version 4 did.
  if (message.type === 'release') return { type: 'release', sku: message.sku, target: message.target };
  if (version >= 5) return message;
  // Version 4 had no refusal reports.
  if (message.type === 'refused') return null;
  return message;
}
