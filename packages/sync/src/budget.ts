/** A rate a session may use a costly request at: `burst` at once, refilled at `perSecond`. */
export interface RateBudget {
  readonly burst: number;
  readonly perSecond: number;
}

/** A token bucket: starts full, refills continuously, never above `burst`. */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly budget: RateBudget,
    private readonly now: () => number,
  ) {
    this.tokens = budget.burst;
    this.refilledAt = now();
  }

  /** Takes one token; false when none is left. */
  take(): boolean {
    const now = this.now();
    const elapsed = Math.max(0, now - this.refilledAt) / 1000;
    this.tokens = Math.min(this.budget.burst, this.tokens + elapsed * this.budget.perSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
