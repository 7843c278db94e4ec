/** Reconnect delays: exponential, capped, jittered so many stores do not reconnect in step. */
export interface BackoffOptions {
  /** Delay scale of the first retry, in ms. */
  readonly baseMs: number;
  /** Upper bound of any delay, in ms. */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 250, maxMs: 10_000 };

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry): uniform in
 * [c/2, c] with c = min(maxMs, baseMs * 2^attempt) ("equal jitter": spread out,
 * but never an immediate retry storm).
 */
export function backoffDelay(attempt: number, random: () => number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.floor(ceiling / 2 + random() * (ceiling / 2));
}
