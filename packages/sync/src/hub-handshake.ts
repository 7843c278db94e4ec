import { ErrorCode, type Sku } from '@shelfsync/protocol';
import { TokenBucket, type RateBudget } from './budget.js';
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, type ErrorMessage, type Hello, type Welcome } from './control.js';
import type { HubChangeLog } from './hub-change-log.js';

/**
 * Free step 1s for dirty SKUs a hello counted but could not list (past its list
 * bound): a store changed that many more offline. Beyond this they take tokens.
 */
const MAX_UNLISTED_FREE = 200_000;

/** Whether the hub speaks a store's protocol `version`: within its window. */
export function speaks(version: number): boolean {
  return version >= MIN_PROTOCOL_VERSION && version <= PROTOCOL_VERSION;
}

/** What a session past its step 1 or top-up budget is told before it is closed with RequestBudgetExceeded. */
export function overBudgetError(budget: 'step1' | 'topup'): ErrorMessage {
  return {
    type: 'error',
    code: ErrorCode.RateLimited,
    detail: `${budget === 'step1' ? 'step 1' : 'top-up'} requests above this session's budget`,
  };
}

/** What a store whose protocol the hub does not speak is told before it is closed, so its log says why. */
export function unsupportedProtocol(version: number): ErrorMessage {
  return {
    type: 'error',
    code: ErrorCode.ValidationFailed,
    detail: `protocol ${version} unsupported; this hub speaks ${MIN_PROTOCOL_VERSION} to ${PROTOCOL_VERSION} (upgrade the hub before its stores)`,
  };
}

/**
 * The welcome to a store that said `hello`: the SKUs changed after its cursor
 * (every SKU when it comes from another epoch), of those only the ones whose
 * share of the store changed when `share` says (a store holding its share,
 * ADR 0022), and the hub's head. Read in one tick with the session already
 * live, so every later commit is relayed to it.
 */
export function welcomeFor(
  log: Pick<HubChangeLog, 'epoch' | 'cursor' | 'changedSince' | 'allSkus'>,
  hello: Hello,
  overrideCap: number,
  share?: (cursor: number, skus: readonly Sku[]) => Sku[],
): Welcome {
  const since = hello.epoch === log.epoch ? log.changedSince(hello.cursor) : null;
  const changed = since === null ? log.allSkus() : share === undefined ? since : share(hello.cursor, since);
  return { type: 'welcome', protocol: hello.protocol, epoch: log.epoch, cursor: log.cursor(), changed, overrideCap };
}

/**
 * Which step 1s a session may send. The catch-up's are free, once per SKU it
 * covers (the welcome's `changed` and the hello's dirty list, and as many other
 * SKUs as the hello's dirty count exceeds that list): a count the store claims
 * buys no repeated asks. Any other step 1 takes a token from the budget.
 */
export class Step1Allowance {
  /** SKUs the handshake named: the first step 1 of each is free. */
  private catchUp = new Set<string>();
  /** Dirty SKUs the hello counted but could not list: the first step 1 of this many other SKUs is free. */
  private unlistedFree = 0;
  /** SKUs whose free step 1 was taken, while unlisted ones are free. */
  private readonly unlistedAsked = new Set<string>();
  private readonly tokens: TokenBucket;

  constructor(budget: RateBudget, now: () => number) {
    this.tokens = new TokenBucket(budget, now);
  }

  /** The handshake is done: the SKUs it named, and those the hello counted past its list, are free once. */
  welcomed(changed: readonly Sku[], hello: Hello): void {
    this.catchUp = new Set([...changed, ...hello.dirty]);
    this.unlistedFree = Math.min(MAX_UNLISTED_FREE, Math.max(0, (hello.dirtyTotal ?? 0) - hello.dirty.length));
  }

  /** Whether a step 1 of `sku` is allowed now (taking its free ask, or a token). */
  take(sku: string): boolean {
    if (this.catchUp.delete(sku)) {
      // Kept only while unlisted ones are free: it must not take one of those again.
      if (this.unlistedFree > 0) this.unlistedAsked.add(sku);
      return true;
    }
    if (this.unlistedFree > 0 && !this.unlistedAsked.has(sku)) {
      this.unlistedFree--;
      this.unlistedAsked.add(sku);
      return true;
    }
    return this.tokens.take();
  }
}
