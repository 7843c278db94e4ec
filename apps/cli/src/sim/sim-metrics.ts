/**
 * The simulator's service figures, apart from its process plumbing: what a refusal
 * said, which store links the faults cut, and how much was served.
 */
import { REFUSAL_CAUSES, type Refusal, type Verdict } from '@shelfsync/checker';
import { z } from 'zod';
import type { FaultStep } from './scenarios.js';

/** Ended ok, of those asked. */
export interface Served {
  readonly attempted: number;
  readonly served: number;
}

export interface ServiceReport {
  /** Failed sales and ship-outs by the cause the store gave (`other`: none given, or no answer). */
  readonly refusals: Verdict['refusals'];
  /** Sales and ship-outs refused while the hub answered that the store's own location held the units: the own-stock-refusal violations. */
  readonly ownStockRefusals: number;
  /** In-store sales invoked while a fault cut that store's link to the hub; served: ended ok (a retry after the heal included). */
  readonly salesWhileCut: Served;
  /** Online reservations at the hub; served: ended ok. */
  readonly onlineOrders: Served;
}

// Every field on its own: a store with a newer cause, or a garbled value, must not hide the rest.
const RefusalBodySchema = z.object({
  code: z.string().min(1).max(200),
  details: z
    .object({
      cause: z.enum(REFUSAL_CAUSES).optional().catch(undefined),
      hubReachable: z.boolean().optional().catch(undefined),
      availableAtLocation: z.int().min(0).optional().catch(undefined),
    })
    .optional()
    .catch(undefined),
});

/** What an error answer's problem+json body says about the refusal; undefined when it names no code. */
export function parseRefusal(body: unknown): Refusal | undefined {
  const parsed = RefusalBodySchema.safeParse(body);
  if (!parsed.success) return undefined;
  const { code, details } = parsed.data;
  return {
    code,
    ...(details?.cause === undefined ? {} : { cause: details.cause }),
    ...(details?.hubReachable === undefined ? {} : { hubReachable: details.hubReachable }),
    ...(details?.availableAtLocation === undefined ? {} : { availableAtLocation: details.availableAtLocation }),
  };
}

/**
 * Which stores the faults have cut off from the hub: a held, reset or flapping link,
 * or the hub killed. A lagging link still carries top-ups, and a killed store serves
 * no one, so neither counts as a store selling cut off.
 */
export class LinkCuts {
  private readonly cut = new Set<number>();
  private readonly killed = new Set<number>();
  private hubDown = false;

  apply(step: FaultStep): void {
    switch (step.fault) {
      case 'hold':
      case 'reset':
      case 'flap':
        this.cut.add(step.store);
        return;
      case 'restore':
        this.cut.delete(step.store);
        return;
      case 'degrade':
        return;
      case 'kill-store':
        this.killed.add(step.store);
        return;
      case 'restart-store':
        this.killed.delete(step.store);
        return;
      case 'kill-hub':
        this.hubDown = true;
        return;
      case 'restart-hub':
        this.hubDown = false;
        return;
      default:
        // A hub node down or cut from its database: the stores move to the other nodes.
        return;
    }
  }

  isCut(store: number): boolean {
    return !this.killed.has(store) && (this.hubDown || this.cut.has(store));
  }
}

export function serviceReport(
  verdict: Verdict,
  byKind: Readonly<Record<string, { ok: number; fail: number; unknown: number }>>,
  ends: ReadonlyMap<string, 'ok' | 'fail' | 'unknown'>,
  soldWhileCut: ReadonlySet<string>,
): ServiceReport {
  let served = 0;
  for (const id of soldWhileCut) if (ends.get(id) === 'ok') served++;
  const reserve = byKind.reserve ?? { ok: 0, fail: 0, unknown: 0 };
  return {
    refusals: verdict.refusals,
    ownStockRefusals: verdict.violations.filter((v) => v.check === 'own-stock-refusal').length,
    salesWhileCut: { attempted: soldWhileCut.size, served },
    onlineOrders: { attempted: reserve.ok + reserve.fail + reserve.unknown, served: reserve.ok },
  };
}
