import { checkHistory, type HistoryEvent } from '@shelfsync/checker';
import { describe, expect, it } from 'vitest';
import { LinkCuts, parseRefusal, serviceReport } from '../src/sim/sim-metrics.js';

describe('simulator service figures', () => {
  it('reads a refusal from a problem+json body, and nothing a hostile body does not hold', () => {
    expect(
      parseRefusal({
        type: 'about:blank',
        code: 'INSUFFICIENT_RIGHTS',
        details: { rights: 1, requested: 3, hubReachable: true, availableAtLocation: 2, cause: 'online_escrow' },
      }),
    ).toEqual({ code: 'INSUFFICIENT_RIGHTS', cause: 'online_escrow', hubReachable: true, availableAtLocation: 2 });
    // Offline: no top-up answer, so no units at the location to report.
    expect(
      parseRefusal({ code: 'INSUFFICIENT_RIGHTS', details: { hubReachable: false, cause: 'hub_unreachable' } }),
    ).toEqual({ code: 'INSUFFICIENT_RIGHTS', cause: 'hub_unreachable', hubReachable: false });
    for (const body of [{}, null, 'INSUFFICIENT_RIGHTS', [], { code: 7 }, { code: '' }, { code: 'x'.repeat(201) }]) {
      expect(parseRefusal(body), JSON.stringify(body)).toBeUndefined();
    }
    // A garbled field is left out; the others still count.
    expect(
      parseRefusal({
        code: 'INSUFFICIENT_RIGHTS',
        details: { cause: 'meteor', hubReachable: 'yes', availableAtLocation: 4 },
      }),
    ).toEqual({ code: 'INSUFFICIENT_RIGHTS', availableAtLocation: 4 });
    for (const availableAtLocation of [-1, 1.5, Number.MAX_VALUE, '9']) {
      expect(parseRefusal({ code: 'INSUFFICIENT_RIGHTS', details: { availableAtLocation } })).toEqual({
        code: 'INSUFFICIENT_RIGHTS',
      });
    }
    expect(parseRefusal({ code: 'INSUFFICIENT_RIGHTS', details: 'none' })).toEqual({ code: 'INSUFFICIENT_RIGHTS' });
  });

  it('a store is cut off while its link is held, reset or flapping, or the hub is down; not while it lags or is down itself', () => {
    const cuts = new LinkCuts();
    const seen = (): boolean[] => [0, 1].map((store) => cuts.isCut(store));
    cuts.apply({ atMs: 0, fault: 'degrade', store: 0, latencyMs: 100, jitterMs: 0, bandwidth: 0 });
    expect(seen()).toEqual([false, false]);
    cuts.apply({ atMs: 1, fault: 'hold', store: 0 });
    cuts.apply({ atMs: 1, fault: 'flap', store: 1, upMs: 100, downMs: 100 });
    expect(seen()).toEqual([true, true]);
    cuts.apply({ atMs: 2, fault: 'restore', store: 0 });
    cuts.apply({ atMs: 2, fault: 'restore', store: 1 });
    expect(seen()).toEqual([false, false]);
    cuts.apply({ atMs: 3, fault: 'kill-hub' });
    cuts.apply({ atMs: 3, fault: 'kill-store', store: 1 });
    expect(seen()).toEqual([true, false]);
    cuts.apply({ atMs: 4, fault: 'restart-store', store: 1 });
    expect(seen()).toEqual([true, true]);
    cuts.apply({ atMs: 5, fault: 'restart-hub' });
    cuts.apply({ atMs: 5, fault: 'reset', store: 1 });
    expect(seen()).toEqual([false, true]);
  });

  it('counts served sales while cut off, online orders, refusals by cause and own-stock refusals', () => {
    const sold = (id: string, phase: 'ok' | 'fail', extra: Partial<HistoryEvent> = {}): HistoryEvent[] => [
      { id, sku: 'S', kind: 'sell', phase: 'invoke', quantity: 1 },
      { id, sku: 'S', kind: 'sell', phase, quantity: 1, ...extra },
    ];
    const history = [
      ...sold('a', 'ok'),
      ...sold('b', 'fail', { refusal: { code: 'INSUFFICIENT_RIGHTS', cause: 'hub_unreachable', hubReachable: false } }),
      ...sold('c', 'fail', {
        refusal: { code: 'INSUFFICIENT_RIGHTS', cause: 'topup_timeout', hubReachable: true, availableAtLocation: 1 },
      }),
    ];
    const verdict = checkHistory(history, {});
    const report = serviceReport(
      verdict,
      { sell: { ok: 1, fail: 2, unknown: 0 }, reserve: { ok: 4, fail: 1, unknown: 1 } },
      new Map([
        ['a', 'ok'],
        ['b', 'fail'],
        ['c', 'fail'],
      ] as const),
      new Set(['a', 'b']),
    );
    expect(report).toEqual({
      refusals: { location_empty: 0, hub_unreachable: 1, online_escrow: 0, topup_timeout: 1, other: 0 },
      ownStockRefusals: 1,
      salesWhileCut: { attempted: 2, served: 1 },
      onlineOrders: { attempted: 6, served: 4 },
    });
    expect(serviceReport(checkHistory([], {}), {}, new Map(), new Set()).onlineOrders).toEqual({
      attempted: 0,
      served: 0,
    });
  });
});
