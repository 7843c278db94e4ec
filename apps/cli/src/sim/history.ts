import type { HistoryEvent } from '@shelfsync/checker';
import type { Answer } from './sim-client.js';
import { parseRefusal } from './sim-metrics.js';
import type { Operation, Reservation } from './workload.js';

export type End = 'ok' | 'fail' | 'unknown';
export type EndCounts = { ok: number; fail: number; unknown: number };

/**
 * The history recorder: an invoke and an end per operation, Jepsen style, as the
 * checker reads them, and what the report counts besides (ends by kind, retries
 * answered from the idempotency record, units sold under the override, sales
 * made while the store was cut off, reservations made).
 */
export class HistoryRecorder {
  readonly events: HistoryEvent[] = [];
  /** Each operation's end so far; a retry's definite end replaces an unknown one. */
  readonly ends = new Map<string, End>();
  readonly operations = new Map<string, Operation>();
  /** Sales invoked at a store while a fault cut its link to the hub. */
  readonly soldWhileCut = new Set<string>();
  /** Every reservation the hub answered as held. */
  readonly reservations: Reservation[] = [];
  retriedReplayed = 0;
  overriddenUnits = 0;

  /** Records an operation about to be sent (a retry is not invoked again). */
  invoke(op: Operation, retry: boolean, storeCut: boolean): void {
    this.operations.set(op.id, op);
    if (retry) return;
    this.events.push({ id: op.id, sku: op.sku, kind: op.kind, phase: 'invoke', quantity: op.quantity });
    if (op.kind === 'sell' && storeCut) this.soldWhileCut.add(op.id);
  }

  /** Records how the operation ended; returns the reservation it made, if it made one. */
  end(op: Operation, answer: Answer, retry: boolean): Reservation | undefined {
    let end: HistoryEvent;
    let made: Reservation | undefined;
    if (answer.outcome === 'unknown')
      end = { id: op.id, sku: op.sku, kind: op.kind, phase: 'unknown', quantity: op.quantity };
    else if (answer.outcome === 'refused' || answer.status >= 400) {
      // Refused before it was read, or answered with an error: not applied. A 5xx is not a definite answer.
      const phase = answer.outcome === 'answered' && answer.status >= 500 && answer.status !== 503 ? 'unknown' : 'fail';
      // What the refusal said (its problem code and details), for the checker's own-stock rule.
      const refusal = phase === 'fail' && answer.outcome === 'answered' ? parseRefusal(answer.body) : undefined;
      end = {
        id: op.id,
        sku: op.sku,
        kind: op.kind,
        phase,
        quantity: op.quantity,
        ...(refusal === undefined ? {} : { refusal }),
      };
    } else {
      const delta = op.kind === 'count' ? Number(answer.body.delta ?? 0) : undefined;
      // Each operation ends ok once (only unanswered ones are retried), so every ok answer counts.
      if (typeof answer.body.overridden === 'number') this.overriddenUnits += answer.body.overridden;
      end = {
        id: op.id,
        sku: op.sku,
        kind: op.kind,
        phase: 'ok',
        quantity: op.quantity,
        ...(delta === undefined ? {} : { delta }),
      };
      if (op.kind === 'reserve' && typeof answer.body.id === 'string') {
        made = { id: answer.body.id, sku: op.sku, quantity: op.quantity };
        this.reservations.push(made);
      }
    }
    if (retry && answer.outcome === 'answered' && answer.replayed) this.retriedReplayed++;
    this.events.push(end);
    // A retry that settles an unknown replaces it; a definite end is never replaced.
    const before = this.ends.get(op.id);
    if (before !== 'ok' && before !== 'fail') this.ends.set(op.id, end.phase as End);
    return made;
  }

  /** A reservation the hub let expire: an operation of its own, ended ok. */
  expired(r: Reservation): void {
    this.events.push({ id: `${r.id}:expire`, sku: r.sku, kind: 'expire', phase: 'ok', quantity: r.quantity });
  }

  /** Operations still without an answer, in the order they were first sent. */
  unanswered(): (Operation | undefined)[] {
    return [...this.ends].filter(([, end]) => end === 'unknown').map(([id]) => this.operations.get(id));
  }

  /** Ends so far, for the progress line. */
  counts(): EndCounts {
    const counts = { ok: 0, fail: 0, unknown: 0 };
    for (const end of this.ends.values()) counts[end]++;
    return counts;
  }

  /** Ends by operation kind, expiries included. */
  byKind(): Record<string, EndCounts> {
    const byKind: Record<string, EndCounts> = {};
    for (const [id, end] of this.finalEnds()) {
      const kind = this.operations.get(id)?.kind ?? 'expire';
      byKind[kind] ??= { ok: 0, fail: 0, unknown: 0 };
      byKind[kind][end]++;
    }
    return byKind;
  }

  private *finalEnds(): Generator<[string, End]> {
    yield* this.ends;
    for (const event of this.events) if (event.kind === 'expire') yield [event.id, 'ok'];
  }
}
