/**
 * Sales velocity as an exponentially weighted moving average over irregular
 * events: each sale of q units adds q/τ to the rate, and the rate decays by
 * e^(-Δt/τ) between events, with τ = halfLife / ln 2. For sales at a steady
 * rate r this converges to r; with no sales it halves every half-life.
 */
export interface Velocity {
  /** Units per millisecond, as of `at`. */
  readonly rate: number;
  /** Milliseconds since the epoch of the last update. */
  readonly at: number;
}

export const NO_VELOCITY: Velocity = { rate: 0, at: 0 };

function tau(halfLifeMs: number): number {
  return halfLifeMs / Math.LN2;
}

/** The estimate at `now` (decayed since its last update; never in the future). */
export function velocityAt(velocity: Velocity, now: number, halfLifeMs: number): number {
  const elapsed = Math.max(0, now - velocity.at);
  return velocity.rate * Math.exp(-elapsed / tau(halfLifeMs));
}

/** The estimate after `quantity` units sold at `now`. */
export function recordSale(velocity: Velocity, quantity: number, now: number, halfLifeMs: number): Velocity {
  const at = Math.max(now, velocity.at);
  return { rate: velocityAt(velocity, at, halfLifeMs) + quantity / tau(halfLifeMs), at };
}

/**
 * A location's online demand for a SKU, shrunk toward the chain's: `pooling` of
 * it is the SKU's chain-wide online rate spread evenly over the `locations` that
 * carry it, the rest the location's own rate. Online orders for one SKU at one
 * location are sparse (a few a day), so their average alone is near zero most of
 * the time and jumps after each order: the escrow would hold nothing, then
 * hours' worth, and a store cut off at either moment pays for it. The chain's
 * rate moves with many more orders.
 */
export function pooledRate(local: number, chain: number, locations: number, pooling: number): number {
  const spread = locations > 0 ? chain / locations : 0;
  return (1 - pooling) * local + pooling * spread;
}
