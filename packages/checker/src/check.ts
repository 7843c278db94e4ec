import { locationView } from './final-sku.js';
/**
 * A Jepsen-style checker for a run of the chain: a history of every operation
 * a client attempted (invoke, then ok, fail or unknown: the answer never came),
 * and the final state read from every replica after the heal.
 */

/** What a client asked for. */
export type OperationKind =
  'receive' | 'return' | 'receiveTransfer' | 'sell' | 'shipOut' | 'count' | 'reserve' | 'confirm' | 'cancel' | 'expire';

/**
 * Why a store refused a sale or ship-out beyond its rights, as it said in the answer's
 * `details.cause`. Mirrors the store's own list; the checker stays free of the sync
 * package, so it is spelled out here.
 */
export const REFUSAL_CAUSES = ['location_empty', 'hub_unreachable', 'online_escrow', 'topup_timeout'] as const;
export type RefusalCause = (typeof REFUSAL_CAUSES)[number];

/** What a refusal's problem+json answer said, as far as it could be read. */
export interface Refusal {
  /** The problem's `code`, e.g. `INSUFFICIENT_RIGHTS`. */
  readonly code: string;
  readonly cause?: RefusalCause;
  /** Whether the store was connected to the hub when it answered. */
  readonly hubReachable?: boolean;
  /** Present when the hub answered a top-up: the units the location held there (POS plus online escrow, unreserved). */
  readonly availableAtLocation?: number;
}

export interface HistoryEvent {
  /** The operation's id: its idempotency key (a retry shares it). */
  readonly id: string;
  readonly sku: string;
  readonly kind: OperationKind;
  readonly phase: 'invoke' | 'ok' | 'fail' | 'unknown';
  /** Units asked for (for a count: the units counted). */
  readonly quantity: number;
  /** For an ok count: the units it added (positive) or committed (negative). */
  readonly delta?: number;
  /** For a failed operation: what the refusal said, when it said something readable. */
  readonly refusal?: Refusal;
}

/** One SKU's derived totals at one replica after the heal. */
export interface FinalSku {
  /** Σp: units added. */
  readonly added: number;
  /** Σn: units committed (sold, shipped, reserved). */
  readonly committed: number;
  readonly value: number;
  readonly rights: Readonly<Record<string, number>>;
  /** The replica's Yjs state vector, when known: compared like the totals, so equal totals from different operations still differ. */
  readonly stateVector?: string;
  /**
   * Units store accounts owe under the manager override (capped and recorded
   * deficits): such an account may be below zero by this much, and the chain's
   * value by their sum. Absent: nothing owed.
   */
  readonly owed?: Readonly<Record<string, number>>;
  /**
   * The replica holds only the share of this location (a store on sync protocol
   * 7): only the location's accounts are compared with the other replicas'.
   */
  readonly share?: string;
}

/** What of a replica's view is comparable with another's: all of it, or a share's accounts only. */
function comparable(final: FinalSku | undefined, share: string | undefined): unknown {
  if (final === undefined || share === undefined) return final;
  return locationView(final, share);
}

/**
 * Whether replica `other` agrees with `reference` (a whole replica, the hub's)
 * on one SKU: the same totals, rights and state vector, or, for a replica that
 * holds `share`'s share (`other.share`, or given for a SKU it does not hold at
 * all), the same rights and debts of that location's accounts.
 */
export function replicaAgrees(
  reference: FinalSku | undefined,
  other: FinalSku | undefined,
  share: string | undefined = other?.share,
): boolean {
  const mine = other ?? (share === undefined ? undefined : { added: 0, committed: 0, value: 0, rights: {} });
  return JSON.stringify(comparable(mine, share)) === JSON.stringify(comparable(reference, share));
}

/** The location whose share a replica holds, when it holds only that (any of its SKUs says so). */
export function shareOf(replica: Readonly<Record<string, FinalSku>> | undefined): string | undefined {
  for (const final of Object.values(replica ?? {})) if (final.share !== undefined) return final.share;
  return undefined;
}

export interface Violation {
  readonly check: 'no-oversell' | 'conservation' | 'convergence' | 'exactly-once' | 'history' | 'own-stock-refusal';
  readonly sku?: string;
  readonly detail: string;
}

export interface Verdict {
  readonly ok: boolean;
  readonly violations: readonly Violation[];
  readonly operations: { readonly ok: number; readonly fail: number; readonly unknown: number };
  /**
   * Failed sales and ship-outs by the cause their refusal gave; `other`: no cause
   * (another error, an unreadable answer, a store that was down).
   */
  readonly refusals: Readonly<Record<RefusalCause | 'other', number>>;
}

/** The store's code for a sale beyond its rights (the checker does not depend on the protocol package). */
const INSUFFICIENT_RIGHTS = 'INSUFFICIENT_RIGHTS';

/** What an operation does to Σp and Σn when it happens. */
function effect(event: HistoryEvent): { added: number; committed: number } {
  switch (event.kind) {
    case 'receive':
    case 'return':
    case 'receiveTransfer':
      return { added: event.quantity, committed: 0 };
    case 'sell':
    case 'shipOut':
    case 'reserve':
      return { added: 0, committed: event.quantity };
    case 'cancel':
    case 'expire':
      return { added: event.quantity, committed: 0 };
    case 'count': {
      const delta = event.delta ?? 0;
      return delta >= 0 ? { added: delta, committed: 0 } : { added: 0, committed: -delta };
    }
    case 'confirm':
      return { added: 0, committed: 0 };
  }
}

/**
 * Checks, per SKU:
 * - **history**: each operation id ends at most once (a retry reuses its id and must get the same end);
 * - **exactly once**: the merged totals hold every acknowledged operation once, and of the
 *   indeterminate ones (no answer) at most once each: `ok <= final <= ok + unknown`;
 * - **no oversell**: nothing is committed beyond what was added: value >= 0, no account below zero
 *   (but for recorded manager-override deficits, `owed`: the bounded oversell the override allows);
 * - **conservation**: added = committed + value, and the rights of all accounts sum to value;
 * - **convergence**: every replica derives the same totals (a replica holding one location's share: the
 *   same rights of that location's accounts);
 * - **own-stock refusal**: no sale or ship-out refused for rights while the hub answered that the
 *   store's own location held the units (`availableAtLocation >= quantity`): the escrow must move
 *   them to the till, so such a refusal is a defect however the store labelled its cause.
 * A count's effect is known only from its answer, so an indeterminate count widens both bounds by what it could have done.
 */
export interface CheckOptions {
  /** The most a store account may owe under the manager override (0: the override was off). */
  readonly overrideCap?: number;
}

export function checkHistory(
  history: readonly HistoryEvent[],
  replicas: Readonly<Record<string, Readonly<Record<string, FinalSku>>>>,
  options: CheckOptions = {},
): Verdict {
  const overrideCap = options.overrideCap ?? 0;
  const violations: Violation[] = [];
  const ends = new Map<string, HistoryEvent>();
  const invoked = new Map<string, HistoryEvent>();
  const counts = { ok: 0, fail: 0, unknown: 0 };
  for (const event of history) {
    if (event.phase === 'invoke') {
      invoked.set(event.id, event);
      continue;
    }
    const earlier = ends.get(event.id);
    if (earlier !== undefined) {
      // A retry after "unknown" may settle it; two different definite ends are a contradiction.
      if (earlier.phase !== 'unknown' && event.phase !== 'unknown' && earlier.phase !== event.phase) {
        violations.push({
          check: 'history',
          sku: event.sku,
          detail: `operation ${event.id} ended both ${earlier.phase} and ${event.phase}`,
        });
      }
      if (earlier.phase !== 'unknown' || event.phase === 'unknown') continue;
    }
    ends.set(event.id, event);
  }
  // Invoked and never answered (the client or the process died): indeterminate.
  for (const [id, event] of invoked) if (!ends.has(id)) ends.set(id, { ...event, phase: 'unknown' });

  const refusals: Record<RefusalCause | 'other', number> = {
    location_empty: 0,
    hub_unreachable: 0,
    online_escrow: 0,
    topup_timeout: 0,
    other: 0,
  };
  for (const event of ends.values()) {
    if (event.phase !== 'fail' || (event.kind !== 'sell' && event.kind !== 'shipOut')) continue;
    const refusal = event.refusal;
    refusals[refusal?.cause ?? 'other']++;
    if (
      refusal?.code === INSUFFICIENT_RIGHTS &&
      refusal.hubReachable === true &&
      refusal.availableAtLocation !== undefined &&
      refusal.availableAtLocation >= event.quantity
    ) {
      violations.push({
        check: 'own-stock-refusal',
        sku: event.sku,
        detail: `${event.kind} ${event.id} of ${event.quantity} refused (${refusal.cause ?? 'no cause given'}), but the hub answered that its location held ${refusal.availableAtLocation}`,
      });
    }
  }

  const bounds = new Map<string, { added: [number, number]; committed: [number, number] }>();
  for (const event of ends.values()) {
    if (event.phase === 'invoke') continue;
    counts[event.phase]++;
    if (event.phase === 'fail') continue;
    let b = bounds.get(event.sku);
    if (b === undefined) {
      b = { added: [0, 0], committed: [0, 0] };
      bounds.set(event.sku, b);
    }
    if (event.phase === 'ok') {
      const e = effect(event);
      b.added[0] += e.added;
      b.added[1] += e.added;
      b.committed[0] += e.committed;
      b.committed[1] += e.committed;
    } else if (event.kind === 'count') {
      // A count without an answer may have added up to what it counted (more only by an
      // override deficit), or committed anything down to it.
      b.added[1] += event.quantity + overrideCap;
      b.committed[1] = Infinity;
    } else {
      const e = effect(event);
      b.added[1] += e.added;
      b.committed[1] += e.committed;
    }
  }

  const names = Object.keys(replicas);
  const reference = names[0] === undefined ? undefined : replicas[names[0]];
  const skus = new Set([...bounds.keys(), ...names.flatMap((name) => Object.keys(replicas[name] ?? {}))]);
  for (const sku of skus) {
    const final = reference?.[sku];
    for (const name of names.slice(1)) {
      const other = replicas[name]?.[sku];
      if (!replicaAgrees(final, other, shareOf(replicas[name]))) {
        violations.push({
          check: 'convergence',
          sku,
          detail: `${name} derives ${JSON.stringify(other)}, ${names[0] ?? ''} ${JSON.stringify(final)}`,
        });
      }
    }
    if (final === undefined) {
      if ((bounds.get(sku)?.added[0] ?? 0) > 0 || (bounds.get(sku)?.committed[0] ?? 0) > 0) {
        violations.push({
          check: 'exactly-once',
          sku,
          detail: 'acknowledged operations, but no replica holds the SKU',
        });
      }
      continue;
    }
    const owed = final.owed ?? {};
    const owedTotal = Object.values(owed).reduce((a, b) => a + b, 0);
    if (final.value + owedTotal < 0) {
      violations.push({
        check: 'no-oversell',
        sku,
        detail: `value ${final.value} < 0${owedTotal > 0 ? ` beyond the ${owedTotal} units owed under override` : ''}`,
      });
    }
    for (const [account, rights] of Object.entries(final.rights)) {
      if (rights + (owed[account] ?? 0) < 0) {
        violations.push({ check: 'no-oversell', sku, detail: `${account} holds ${rights} rights` });
      }
    }
    for (const [account, units] of Object.entries(owed)) {
      if (units > overrideCap) {
        violations.push({
          check: 'no-oversell',
          sku,
          detail: `${account} owes ${units} units under the manager override, the cap is ${overrideCap}`,
        });
      }
    }
    if (final.added !== final.committed + final.value) {
      violations.push({
        check: 'conservation',
        sku,
        detail: `added ${final.added} != committed ${final.committed} + value ${final.value}`,
      });
    }
    const sum = Object.values(final.rights).reduce((a, b) => a + b, 0);
    if (sum !== final.value) {
      violations.push({ check: 'conservation', sku, detail: `rights sum to ${sum}, value is ${final.value}` });
    }
    const b = bounds.get(sku) ?? { added: [0, 0], committed: [0, 0] };
    for (const [label, got, [low, high]] of [
      ['added', final.added, b.added],
      ['committed', final.committed, b.committed],
    ] as const) {
      if (got < low || got > high) {
        violations.push({
          check: 'exactly-once',
          sku,
          detail: `${label} ${got}, but the history allows ${low}..${high} (acknowledged..plus indeterminate)`,
        });
      }
    }
  }
  return { ok: violations.length === 0, violations, operations: counts, refusals };
}
