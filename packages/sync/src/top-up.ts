import { rightsOf, type Operation } from '@shelfsync/core';
import {
  ErrorCode,
  onlineAccount,
  storeAccount,
  type RefusalCause,
  type Result,
  type Sku,
  type StoreId,
} from '@shelfsync/protocol';
import type { TopUpResult } from './control.js';
import type { StoreSync } from './store-sync.js';
import * as Y from 'yjs';

/** One try of a local operation on the current document. */
export interface Attempt<T> {
  readonly result: Result<T>;
  readonly update: Uint8Array | undefined;
}

/** How a sale beyond the store's rights fared with the hub. */
export interface TopUpOutcome<T> extends Attempt<T> {
  /** The hub's last answer; null when it did not answer (offline, or past the wait). */
  readonly topUp: TopUpResult | null;
}

/**
 * Tries `attempt` again with rights from the hub until it succeeds or `waitMs` is
 * over. After every answer the operation is judged again on the store's current
 * document, whatever the answer says: rights the hub granted earlier (a rebalance
 * that crossed the request) are as good as rights granted now. When the hub holds
 * rights for this store that have not reached it yet (a grant relayed behind a
 * SKU's catch-up), the store waits until it holds the hub's changes the answer
 * names, then judges again; if its own changes made since the request took those
 * rights (a release, another till), it asks again. Only an answer that finds the
 * location short ends the wait early. (ADR 0016.)
 */
export async function withTopUp<T, A extends Attempt<T> = Attempt<T>>(
  sync: StoreSync,
  doc: Y.Doc,
  sku: Sku,
  first: A,
  attempt: () => A,
  waitMs: number,
): Promise<A & Pick<TopUpOutcome<T>, 'topUp'>> {
  let current = first;
  let topUp: TopUpResult | null = null;
  const deadline = Date.now() + waitMs;
  while (!current.result.ok && current.result.error.code === ErrorCode.InsufficientRights && Date.now() < deadline) {
    const requested = Number(current.result.error.details?.requested ?? 0);
    if (!Number.isInteger(requested) || requested <= 0) break;
    // The hub judges on its view of this store's changes: hand over what is stored first.
    await sync.localSettled(sku);
    topUp = await sync.requestTopUp(sku, requested, Math.max(1, deadline - Date.now()));
    if (topUp === null) break;
    current = attempt();
    if (current.result.ok) break;
    // The location had nothing more to give.
    if (topUp.rights < requested && topUp.granted === 0) break;
    await holding(doc, topUp.client, topUp.clock, deadline);
    current = attempt();
  }
  return { ...current, topUp };
}

/** How long a release waits for the hub changes it names before it is judged anyway. */
export const RELEASE_HOLD_MS = 2_000;

/**
 * The hub asks a store for its POS rights above `target` back in its online
 * escrow: judged on the store's latest state, once it holds the hub changes the
 * request was decided on (a grant on its way would otherwise be released as
 * surplus and then land), and applied by `apply` in the same tick as the
 * judgement, so two releases never count the same surplus. Null when nothing
 * is above the target.
 */
export async function releaseSurplus<T, A extends Attempt<T> = Attempt<T>>(
  doc: Y.Doc,
  storeId: StoreId,
  target: number,
  hub: { readonly client: number; readonly clock: number } | undefined,
  apply: (operation: Operation) => A,
): Promise<(A & { readonly released: number }) | null> {
  if (hub !== undefined) await holding(doc, hub.client, hub.clock, Date.now() + RELEASE_HOLD_MS);
  const surplus = rightsOf(doc, storeAccount(storeId)) - target;
  if (surplus <= 0) return null;
  const attempt = apply({
    type: 'transferRights',
    from: storeAccount(storeId),
    to: onlineAccount(storeId),
    quantity: surplus,
  });
  return { ...attempt, released: surplus };
}

/** Resolves once `doc` holds `client`'s changes below `clock`, or at `deadline` (epoch ms). */
export function holding(doc: Y.Doc, client: number, clock: number, deadline: number): Promise<void> {
  const holds = (): boolean => Y.getState(doc.store, client) >= clock;
  if (holds()) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      doc.off('update', check);
      resolve();
    };
    const check = (): void => {
      if (holds()) done();
    };
    const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
    doc.on('update', check);
  });
}

/**
 * Why a sale beyond the store's rights was refused, for the till, the metrics and
 * the dashboard (`RefusalCauseSchema`): only `location_empty` is not an escrow
 * matter (the units are at another location, or nowhere).
 * - `location_empty`: the store's shelf holds fewer units than the sale;
 * - `hub_unreachable`: the units are on the shelf, held in its online escrow, and
 *   the hub that could release them was out of reach;
 * - `online_escrow`: the hub answered, and the location's rights it holds (promised
 *   to online reservations, or owed) do not cover the sale;
 * - `topup_timeout`: the hub did not settle it within the store's wait.
 */
export function refusalCause(refused: {
  readonly requested: number;
  readonly onShelf: number;
  /** Whether the hub was connected when the store asked. */
  readonly asked: boolean;
  readonly topUp: TopUpResult | null;
}): RefusalCause {
  if (refused.onShelf < refused.requested) return 'location_empty';
  if (!refused.asked) return 'hub_unreachable';
  if (refused.topUp === null) return 'topup_timeout';
  if (refused.topUp.rights < refused.requested && refused.topUp.granted === 0) return 'online_escrow';
  return 'topup_timeout';
}
