import type { AllocatorConfig } from './config.js';

/** One location's shelf, as the allocator sees it: who may commit how many of its units. */
export interface ShelfRights {
  /** Rights the store's POS holds (`store:X`). */
  readonly posRights: number;
  /** Rights escrowed for online orders at that store (`online:X`), not reserved. */
  readonly onlineRights: number;
}

/** What the allocator wants done with one location's rights. */
export type Allocation =
  /** The hub moves `quantity` rights `online:X > store:X`. */
  | { readonly type: 'grant'; readonly quantity: number }
  /** The store is asked to move `quantity` rights `store:X > online:X`. */
  | { readonly type: 'release'; readonly quantity: number }
  | { readonly type: 'hold' };

/** The POS quota a location should hold, and the band inside which it is left alone. */
export interface QuotaBand {
  readonly target: number;
  /** Below this, top up to the target. */
  readonly low: number;
  /** Above this, release down to the target. */
  readonly high: number;
}

/**
 * The target POS quota: the units the store would sell over the horizon at its
 * current velocity, at least its minimum, and never more than its shelf.
 */
export function quotaBand(shelf: ShelfRights, velocityPerMs: number, config: AllocatorConfig, sku?: string): QuotaBand {
  const total = shelf.posRights + shelf.onlineRights;
  const minimum = (sku === undefined ? undefined : config.minQuotaBySku[sku]) ?? config.minQuota;
  const wanted = Math.max(Math.ceil(velocityPerMs * config.horizonMs), minimum);
  const target = Math.min(wanted, total);
  return {
    target,
    low: Math.ceil(target * config.lowWatermark),
    high: Math.max(target, Math.floor(target * config.highWatermark)),
  };
}

/**
 * The rebalancing decision for one location: top up a POS below its low
 * watermark to its target (from online rights), ask a POS above its high
 * watermark to release down to its target, else leave it. Applying the
 * decision lands on the target, where the next decision is `hold`: the policy
 * does not oscillate while the velocity holds still.
 */
export function allocate(shelf: ShelfRights, velocityPerMs: number, config: AllocatorConfig, sku?: string): Allocation {
  const band = quotaBand(shelf, velocityPerMs, config, sku);
  if (shelf.posRights < band.low) {
    const quantity = Math.min(band.target - shelf.posRights, shelf.onlineRights);
    if (quantity > 0) return { type: 'grant', quantity };
  }
  if (shelf.posRights > band.high) return { type: 'release', quantity: shelf.posRights - band.target };
  return { type: 'hold' };
}

/** The answer to a store whose sale of `requested` units exceeds its rights. */
export type TopUp =
  | { readonly type: 'grant'; readonly quantity: number }
  /** Even every online right of the location would not cover the sale. */
  | { readonly type: 'insufficient'; readonly available: number };

/**
 * A top-up for a sale the POS cannot cover: enough for the sale and, where the
 * shelf allows, to leave the POS at its target after it (so the next sales need
 * no round trip).
 */
export function topUpForSale(
  shelf: ShelfRights,
  requested: number,
  velocityPerMs: number,
  config: AllocatorConfig,
  sku?: string,
): TopUp {
  const needed = requested - shelf.posRights;
  if (needed <= 0) return { type: 'grant', quantity: 0 };
  if (needed > shelf.onlineRights) return { type: 'insufficient', available: shelf.posRights + shelf.onlineRights };
  const afterSale = { posRights: 0, onlineRights: shelf.onlineRights - needed };
  const refill = Math.min(quotaBand(afterSale, velocityPerMs, config, sku).target, afterSale.onlineRights);
  return { type: 'grant', quantity: needed + refill };
}
