import type { AllocatorConfig } from './config.js';

/** One location's shelf, as the allocator sees it: who may commit how many of its units. */
export interface ShelfRights {
  /** Rights the store's POS holds (`store:X`). */
  readonly posRights: number;
  /** Rights escrowed for online orders at that store (`online:X`), not reserved. */
  readonly onlineRights: number;
}

/** One location's demand per channel, in units per millisecond (EWMA estimates). */
export interface ChannelDemand {
  /** Sales at the store's tills. */
  readonly pos: number;
  /** Online reservations served from the location. */
  readonly online: number;
}

/** What the allocator wants done with one location's rights. */
export type Allocation =
  /** The hub moves `quantity` rights `online:X > store:X`. */
  | { readonly type: 'grant'; readonly quantity: number }
  /** The store is asked to move `quantity` rights `store:X > online:X`. */
  | { readonly type: 'release'; readonly quantity: number }
  | { readonly type: 'hold' };

/** How a location's shelf should be split between its channels. */
export interface ShelfTargets {
  /** Rights the POS should hold. */
  readonly pos: number;
  /** Rights the online escrow should hold. */
  readonly online: number;
}

/** The online escrow's target, and the band inside which it is left alone. */
export interface OnlineBand {
  readonly target: number;
  /** Below this, the store is asked to release up to the target. */
  readonly low: number;
  /** Above this, the surplus is granted to the POS. */
  readonly high: number;
}

/**
 * Policy v2 (ADR 0017): the online escrow keeps what online orders need over the
 * horizon (online velocity × horizon, plus a floor); the POS keeps the rest of
 * the shelf, because in-store demand with the unit in hand is the channel that
 * must survive a partition (online orders need the hub anyway). Only when the
 * shelf is smaller than both needs together is it split in proportion to them,
 * the POS's need being its velocity × horizon, at least its minimum.
 * Both targets sum to the shelf; the POS's target never falls as its own
 * velocity rises, nor rises as the online velocity does.
 */
export function shelfTargets(
  shelf: ShelfRights,
  demand: ChannelDemand,
  config: AllocatorConfig,
  sku?: string,
): ShelfTargets {
  const total = Math.max(0, shelf.posRights + shelf.onlineRights);
  const minimum = (sku === undefined ? undefined : config.minQuotaBySku[sku]) ?? config.minQuota;
  const posNeed = Math.max(Math.ceil(demand.pos * config.horizonMs), minimum);
  const onlineNeed = Math.ceil(demand.online * config.horizonMs) + config.onlineFloor;
  const needs = posNeed + onlineNeed;
  const online = needs <= total ? onlineNeed : Math.floor((total * onlineNeed) / needs);
  return { pos: total - online, online };
}

/** The online escrow's band: a target, and the hysteresis around it. */
export function onlineBand(
  shelf: ShelfRights,
  demand: ChannelDemand,
  config: AllocatorConfig,
  sku?: string,
): OnlineBand {
  const target = shelfTargets(shelf, demand, config, sku).online;
  return {
    target,
    low: target * config.lowWatermark,
    high: Math.max(target, Math.floor(target * config.highWatermark)),
  };
}

/**
 * The rebalancing decision for one location: an online escrow above its high
 * watermark gives its surplus to the POS (a hub grant); one below its low
 * watermark asks the store to release up to the target; inside the band
 * nothing moves. Either move lands on the target, where the next decision is
 * `hold`: the policy does not oscillate while the velocities hold still. Sales
 * at the till lower the POS's rights and leave the escrow where it was, so they
 * move nothing unless the shelf turns scarce.
 */
export function allocate(shelf: ShelfRights, demand: ChannelDemand, config: AllocatorConfig, sku?: string): Allocation {
  const band = onlineBand(shelf, demand, config, sku);
  if (shelf.onlineRights > band.high) return { type: 'grant', quantity: shelf.onlineRights - band.target };
  if (shelf.onlineRights < band.low) {
    const quantity = Math.min(band.target - shelf.onlineRights, shelf.posRights);
    if (quantity > 0) return { type: 'release', quantity };
  }
  return { type: 'hold' };
}

/** The answer to a store whose sale of `requested` units exceeds its rights. */
export type TopUp =
  | { readonly type: 'grant'; readonly quantity: number }
  /** Even every online right of the location would not cover the sale. */
  | { readonly type: 'insufficient'; readonly available: number };

/**
 * A top-up for a sale the POS cannot cover: the sale comes first (a customer
 * with the unit in hand, at a connected till, is served from the location's
 * online rights whatever their target), then, where the shelf allows, the POS
 * is refilled to its target so the next sales need no round trip.
 */
export function topUpForSale(
  shelf: ShelfRights,
  requested: number,
  demand: ChannelDemand,
  config: AllocatorConfig,
  sku?: string,
): TopUp {
  const needed = requested - shelf.posRights;
  if (needed <= 0) return { type: 'grant', quantity: 0 };
  if (needed > shelf.onlineRights) return { type: 'insufficient', available: shelf.posRights + shelf.onlineRights };
  const afterSale = { posRights: 0, onlineRights: shelf.onlineRights - needed };
  const refill = Math.max(0, afterSale.onlineRights - shelfTargets(afterSale, demand, config, sku).online);
  return { type: 'grant', quantity: needed + refill };
}

/**
 * Rights to ask a store to release for an online order of `requested` units its
 * location's escrow cannot cover: what the order lacks, never more than the POS
 * holds. Null when even the whole shelf would not cover it.
 */
export function releaseForOrder(shelf: ShelfRights, requested: number): number | null {
  const lacking = requested - Math.max(0, shelf.onlineRights);
  if (lacking <= 0) return 0;
  return lacking > Math.max(0, shelf.posRights) ? null : lacking;
}
