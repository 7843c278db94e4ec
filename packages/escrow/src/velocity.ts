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
