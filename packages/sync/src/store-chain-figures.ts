import type { Sku } from '@shelfsync/protocol';
import { MAX_AVAILABLE_LIST, MAX_FOLLOWED, type Available, type ControlMessage } from './control.js';

/** The hub's last figure of a SKU's units at every other location, and when it came (ms since the epoch). */
export interface ElsewhereFigure {
  readonly units: number;
  readonly at: number;
}

/** A followed SKU nobody looked at for this long is not followed again on the next connection. */
export const FOLLOW_LEASE_MS = 60 * 60_000;

/**
 * What a store that holds only its share knows of the rest of the chain: the
 * hub's availability summary (`available`), per SKU, and the SKUs it follows
 * (its console showed them). The hub keeps follows per connection, so each new
 * connection follows again those looked at within FOLLOW_LEASE_MS, the most
 * recent MAX_FOLLOWED.
 */
export class ChainFigures {
  private readonly elsewhere = new Map<Sku, ElsewhereFigure>();
  /** Followed SKUs, by when they were last looked at, oldest first. */
  private readonly following = new Map<Sku, number>();

  constructor(private readonly now: () => number) {}

  /** The hub's last figure of `sku` elsewhere, or undefined before one came. */
  of(sku: Sku): ElsewhereFigure | undefined {
    return this.elsewhere.get(sku);
  }

  /** A summary from the hub. */
  received(message: Available): void {
    const at = this.now();
    for (const [sku, units] of message.skus) this.elsewhere.set(sku, { units, at });
  }

  /**
   * `skus` were looked at now: followed from now on (the oldest dropped past
   * MAX_FOLLOWED). Returns the `follow` messages to send now for those not
   * followed yet, none when every one is.
   */
  follow(skus: readonly Sku[]): ControlMessage[] {
    const at = this.now();
    const fresh: Sku[] = [];
    for (const sku of skus) {
      if (!this.following.delete(sku)) fresh.push(sku);
      this.following.set(sku, at);
    }
    for (const sku of this.following.keys()) {
      if (this.following.size <= MAX_FOLLOWED) break;
      this.following.delete(sku);
    }
    return followMessages(fresh);
  }

  /** The `follow` messages a new connection sends once caught up: the SKUs looked at within the lease. */
  resume(): ControlMessage[] {
    const since = this.now() - FOLLOW_LEASE_MS;
    for (const [sku, at] of this.following) if (at < since) this.following.delete(sku);
    return followMessages([...this.following.keys()]);
  }
}

function followMessages(skus: readonly Sku[]): ControlMessage[] {
  const messages: ControlMessage[] = [];
  for (let at = 0; at < skus.length; at += MAX_AVAILABLE_LIST) {
    messages.push({ type: 'follow', skus: skus.slice(at, at + MAX_AVAILABLE_LIST) });
  }
  return messages;
}
