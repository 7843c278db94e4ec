import { computeStock } from '@shelfsync/core';
import type { Sku } from '@shelfsync/protocol';
import type * as Y from 'yjs';
import { MAX_AVAILABLE_LIST, MAX_FOLLOWED } from './control.js';
import type { RelayTarget } from './hub-relay.js';

/** One SKU's figure for one store: the uncommitted units at every other location. */
type Figure = [Sku, number];

/** What the availability summary needs of the hub's documents. */
export interface AvailabilitySource {
  open(sku: Sku): Promise<Y.Doc>;
  /** Undefined for a SKU the hub never committed a change of: the chain holds nothing of it. */
  changeOf(sku: Sku): unknown;
}

/**
 * The availability summary (protocol 7, ADR 0022): a store that holds only its
 * share of a document cannot count the other locations' units, which its console
 * shows and its refusal reports carry. The hub tells it, per SKU, the units
 * uncommitted at every other location (`elsewhere`: the chain's minus the store's
 * location's, which the store counts itself, so its own sales show at once).
 *
 * Only to stores that follow the SKU (`follow`: its console shows it), for as
 * long as their connection lasts: the answer at once (a console waits on it),
 * then the SKU's figure whenever it changed, coalesced, every `everyMs` in one
 * `available` message per store. Not to every store holding the SKU: that would cost every
 * holder a figure per sale, and bring back the per-sale cost that grows with
 * the chain (ADR 0022); a store needs the figure for display only.
 */
export class HubAvailability {
  private changedSkus = new Set<Sku>();
  /** SKUs each session asked for with `follow`, answered at the next flush (on the next turn) whether they changed or not. */
  private asked = new Map<RelayTarget, Set<Sku>>();
  private readonly followers = new Map<Sku, Set<RelayTarget>>();
  private readonly followedBy = new Map<RelayTarget, Set<Sku>>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private flushing: Promise<void> | null = null;
  /** An answer to follows is due on the next turn of the event loop. */
  private answering = false;

  constructor(private readonly source: AvailabilitySource) {}

  /** A change of `sku` was committed and relayed: kept for the next flush if anyone follows the SKU. */
  changed(sku: Sku): void {
    if (this.followers.has(sku)) this.changedSkus.add(sku);
  }

  /**
   * `session` follows `skus` for as long as it lasts, up to MAX_FOLLOWED SKUs
   * (further ones are answered once, not followed): each is answered on the next
   * turn, then whenever it changes.
   */
  follow(session: RelayTarget, skus: readonly Sku[]): void {
    let followed = this.followedBy.get(session);
    if (followed === undefined) this.followedBy.set(session, (followed = new Set()));
    let asked = this.asked.get(session);
    if (asked === undefined) this.asked.set(session, (asked = new Set()));
    for (const sku of skus) {
      asked.add(sku);
      if (followed.size >= MAX_FOLLOWED || followed.has(sku)) continue;
      followed.add(sku);
      let followers = this.followers.get(sku);
      if (followers === undefined) this.followers.set(sku, (followers = new Set()));
      followers.add(session);
    }
    this.answerSoon();
  }

  /** Flushes on the next turn, once for all the follows that arrive until then. */
  private answerSoon(): void {
    if (this.answering) return;
    this.answering = true;
    setTimeout(() => {
      this.answering = false;
      void this.flush();
    }, 0);
  }

  /** The session ended: it follows nothing any more. */
  forget(session: RelayTarget): void {
    for (const sku of this.followedBy.get(session) ?? []) {
      const followers = this.followers.get(sku);
      followers?.delete(session);
      if (followers?.size === 0) this.followers.delete(sku);
    }
    this.followedBy.delete(session);
    this.asked.delete(session);
  }

  /** Runs `flush` every `everyMs` until `stop` (once started, calling again does nothing). */
  start(everyMs: number): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.flush(), everyMs);
    // A timer must never keep a process alive on its own.
    if (typeof this.timer === 'object' && 'unref' in this.timer) this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * Sends every store what changed for it since the last flush, and answers the
   * follows that came meanwhile; one flush at a time, and one more right after
   * it while follows came during it.
   */
  flush(): Promise<void> {
    this.flushing ??= (async () => {
      try {
        do await this.send();
        while (this.asked.size > 0);
      } catch {
        // Only a document that cannot be read fails a flush: the storage failed, and the hub halts for it.
      } finally {
        this.flushing = null;
      }
    })();
    return this.flushing;
  }

  private async send(): Promise<void> {
    const changed = this.changedSkus;
    const asked = this.asked;
    this.changedSkus = new Set();
    this.asked = new Map();
    // By session, then SKU: a store that follows a SKU that changed, and asked for it again, is told once.
    const batches = new Map<RelayTarget, Map<Sku, number>>();
    const add = (session: RelayTarget, [sku, units]: Figure): void => {
      if (!session.readsShares || !session.isLive) return;
      const batch = batches.get(session);
      if (batch === undefined) batches.set(session, new Map([[sku, units]]));
      else batch.set(sku, units);
    };
    const figured = new Map<Sku, (location: string) => number>();
    const figureOf = async (sku: Sku): Promise<(location: string) => number> => {
      let figure = figured.get(sku);
      if (figure === undefined) {
        figure = this.source.changeOf(sku) === undefined ? () => 0 : elsewhereOf(await this.source.open(sku));
        figured.set(sku, figure);
      }
      return figure;
    };
    for (const sku of changed) {
      const followers = this.followers.get(sku);
      if (followers === undefined) continue;
      const elsewhere = await figureOf(sku);
      for (const session of followers) add(session, [sku, elsewhere(session.storeId)]);
    }
    for (const [session, skus] of asked) {
      for (const sku of skus) add(session, [sku, (await figureOf(sku))(session.storeId)]);
    }
    for (const [session, batch] of batches) {
      const figures = [...batch];
      for (let at = 0; at < figures.length; at += MAX_AVAILABLE_LIST) {
        session.send({ type: 'available', skus: figures.slice(at, at + MAX_AVAILABLE_LIST) });
      }
    }
  }
}

/** For each location, the units uncommitted at every other one: the chain's value less the location's rights. */
function elsewhereOf(doc: Y.Doc): (location: string) => number {
  const view = computeStock(doc);
  return (location) => {
    const here = view.locations[location];
    return view.value - (here === undefined ? 0 : here.posRights + here.onlineRights);
  };
}
