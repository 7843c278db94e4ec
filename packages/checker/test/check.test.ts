import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHistory, type FinalSku, type HistoryEvent, type Refusal } from '../src/index.js';

const final = (added: number, committed: number, rights: Record<string, number> = {}): FinalSku => ({
  added,
  committed,
  value: added - committed,
  rights: Object.keys(rights).length === 0 ? { 'store:a': added - committed } : rights,
});
const ev = (id: string, kind: HistoryEvent['kind'], quantity: number, phase: HistoryEvent['phase']): HistoryEvent => ({
  id,
  sku: 'S',
  kind,
  quantity,
  phase,
});
const checks = (verdict: ReturnType<typeof checkHistory>): string[] => verdict.violations.map((v) => v.check);

describe('history checker', () => {
  const history = [
    ev('r', 'receive', 10, 'invoke'),
    ev('r', 'receive', 10, 'ok'),
    ev('s', 'sell', 3, 'invoke'),
    ev('s', 'sell', 3, 'ok'),
  ];

  it('accepts a run where every acknowledged operation is there once and every replica agrees', () => {
    const verdict = checkHistory(history, { hub: { S: final(10, 3) }, a: { S: final(10, 3) } });
    expect(verdict).toMatchObject({ ok: true, operations: { ok: 2, fail: 0, unknown: 0 } });
  });

  it("compares a replica holding one location's share on that location's accounts only", () => {
    const hub = final(10, 3, { 'store:a': 4, 'online:a': 3 });
    // The share's totals are its own; its accounts agree with the hub's.
    const share: FinalSku = { added: 8, committed: 1, value: 7, rights: { 'store:a': 4, 'online:a': 3 }, share: 'a' };
    expect(checkHistory(history, { hub: { S: hub }, a: { S: share } }).violations).toEqual([]);
    const behind: FinalSku = { ...share, rights: { 'store:a': 5, 'online:a': 2 } };
    expect(checks(checkHistory(history, { hub: { S: hub }, a: { S: behind } }))).toEqual(['convergence']);
    // A store that holds nothing of a SKU agrees while the chain holds nothing of its location there.
    const convergence = (hubView: Record<string, FinalSku>): boolean =>
      checks(checkHistory(history, { hub: hubView, a: { S: share } })).includes('convergence');
    expect(convergence({ S: hub, T: final(4, 0, { 'store:b': 4 }) })).toBe(false);
    expect(convergence({ S: hub, T: final(4, 0, { 'store:a': 4 }) })).toBe(true);
  });

  it('flags a lost acknowledged sale, and one applied twice', () => {
    expect(checks(checkHistory(history, { hub: { S: final(10, 0) } }))).toEqual(['exactly-once']);
    expect(checks(checkHistory([...history, ev('s', 'sell', 3, 'ok')], { hub: { S: final(10, 6) } }))).toEqual([
      'exactly-once',
    ]);
  });

  it('an indeterminate sale may or may not be there; an invoke with no answer is indeterminate', () => {
    const maybe = [
      ...history,
      ev('u', 'sell', 2, 'invoke'),
      ev('u', 'sell', 2, 'unknown'),
      ev('x', 'sell', 1, 'invoke'),
    ];
    for (const committed of [3, 4, 5, 6]) {
      expect(checkHistory(maybe, { hub: { S: final(10, committed) } }).ok, String(committed)).toBe(true);
    }
    expect(checks(checkHistory(maybe, { hub: { S: final(10, 7) } }))).toEqual(['exactly-once']);
    expect(checkHistory(maybe, { hub: { S: final(10, 3) } }).operations).toEqual({ ok: 2, fail: 0, unknown: 2 });
    // A retry that settles an unknown: the definite answer counts.
    const settled = [...maybe, ev('u', 'sell', 2, 'ok')];
    expect(checks(checkHistory(settled, { hub: { S: final(10, 3) } }))).toEqual(['exactly-once']);
  });

  it('a store below zero by what it owes under the manager override is the bounded oversell, not a violation; beyond it is', () => {
    const sold = [
      ev('r', 'receive', 2, 'invoke'),
      ev('r', 'receive', 2, 'ok'),
      ev('s', 'sell', 3, 'invoke'),
      ev('s', 'sell', 3, 'ok'),
    ];
    const owing = (owed: number): FinalSku => ({
      added: 2,
      committed: 3,
      value: -1,
      rights: { 'store:a': -1 },
      owed: { 'store:a': owed },
    });
    expect(checkHistory(sold, { hub: { S: owing(1) } }, { overrideCap: 1 }).ok).toBe(true);
    expect(checks(checkHistory(sold, { hub: { S: owing(0) } }, { overrideCap: 1 }))).toEqual([
      'no-oversell',
      'no-oversell',
    ]);
    // Owing more than the cap allows is oversell too, even when the document is consistent with it.
    expect(checks(checkHistory(sold, { hub: { S: owing(1) } }))).toEqual(['no-oversell']);
  });

  it('a count without an answer may have booked the whole shelf either way', () => {
    const counted = [ev('r', 'receive', 10, 'invoke'), ev('r', 'receive', 10, 'ok'), ev('c', 'count', 3, 'invoke')];
    // Counted 3 of 10 on the books: it committed 7, or nothing if it never arrived.
    expect(checkHistory(counted, { hub: { S: final(10, 7) } }).ok).toBe(true);
    expect(checkHistory(counted, { hub: { S: final(10, 0) } }).ok).toBe(true);
    // An acknowledged operation is still owed: a lost receipt is caught whatever the count did.
    expect(checks(checkHistory(counted, { hub: { S: final(0, 0) } }))).toEqual(['exactly-once']);
  });

  it('flags oversell, broken conservation, divergence and contradictory answers', () => {
    expect(
      checks(checkHistory([], { hub: { S: { added: 1, committed: 2, value: -1, rights: { 'store:a': -1 } } } })),
    ).toEqual(['no-oversell', 'no-oversell', 'exactly-once', 'exactly-once']);
    expect(
      checks(checkHistory(history, { hub: { S: { ...final(10, 3), value: 8, rights: { 'store:a': 8 } } } })),
    ).toContain('conservation');
    expect(checks(checkHistory(history, { hub: { S: final(10, 3) }, b: { S: final(10, 2) } }))).toEqual([
      'convergence',
    ]);
    expect(checks(checkHistory([...history, ev('s', 'sell', 3, 'fail')], { hub: { S: final(10, 3) } }))).toEqual([
      'history',
    ]);
  });

  it('property: whatever answers are lost, the true outcome passes; dropping an acknowledged sale fails whenever the totals can show it', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            sell: fc.boolean(),
            quantity: fc.integer({ min: 1, max: 5 }),
            fate: fc.constantFrom('ok', 'fail', 'unknown', 'lost'),
          }),
          {
            minLength: 1,
            maxLength: 40,
          },
        ),
        fc.boolean(),
        (ops, corrupt) => {
          const events: HistoryEvent[] = [];
          let added = 0;
          let committed = 0;
          let acknowledgedSale: number | null = null;
          let acknowledgedCommits = 0;
          ops.forEach((op, i) => {
            const id = `op-${i}`;
            const kind = op.sell ? 'sell' : 'receive';
            events.push(ev(id, kind, op.quantity, 'invoke'));
            // The system refuses a sale it has no stock for; otherwise an operation
            // happened unless it failed (a lost or unknown answer may hide either).
            const possible = !op.sell || added - committed >= op.quantity;
            const fate = possible ? op.fate : op.fate === 'ok' ? 'fail' : op.fate;
            const happened = possible && (fate === 'ok' || (fate !== 'fail' && i % 2 === 0));
            if (happened) {
              if (op.sell) committed += op.quantity;
              else added += op.quantity;
            }
            if (fate !== 'lost') events.push(ev(id, kind, op.quantity, fate));
            if (fate === 'ok' && op.sell) {
              acknowledgedSale = op.quantity;
              acknowledgedCommits += op.quantity;
            }
          });
          const truth = final(added, committed, { 'store:a': added - committed });
          expect(checkHistory(events, { hub: { S: truth } }).ok).toBe(true);
          if (corrupt && acknowledgedSale !== null) {
            const q: number = acknowledgedSale;
            const dropped = {
              ...truth,
              committed: committed - q,
              value: added - committed + q,
              rights: { 'store:a': added - committed + q },
            };
            // Caught exactly when the totals fall below what was acknowledged; above that, an
            // indeterminate sale that did happen is indistinguishable from the dropped one.
            const caught = checks(checkHistory(events, { hub: { S: dropped } })).includes('exactly-once');
            expect(caught).toBe(committed - q < acknowledgedCommits);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('refusals', () => {
  const stocked = [ev('r', 'receive', 10, 'invoke'), ev('r', 'receive', 10, 'ok')];
  const replicas = { hub: { S: final(10, 0) } };
  const refused = (id: string, quantity: number, refusal: Refusal | undefined, kind: 'sell' | 'shipOut' = 'sell') => [
    ev(id, kind, quantity, 'invoke'),
    { ...ev(id, kind, quantity, 'fail'), ...(refusal === undefined ? {} : { refusal }) },
  ];
  const rights = (details: Omit<Refusal, 'code'>): Refusal => ({ code: 'INSUFFICIENT_RIGHTS', ...details });

  it('a sale refused while the hub answered that the location held the units is a violation, naming the operation', () => {
    const verdict = checkHistory(
      [...stocked, ...refused('s1', 3, rights({ cause: 'topup_timeout', hubReachable: true, availableAtLocation: 3 }))],
      replicas,
    );
    expect(verdict.ok).toBe(false);
    expect(verdict.violations).toEqual([
      { check: 'own-stock-refusal', sku: 'S', detail: expect.stringMatching(/s1 of 3 refused .*held 3/) as unknown },
    ]);
    // A ship-out is held to the same rule, and the store's label does not excuse it.
    const shipped = checkHistory(
      [
        ...stocked,
        ...refused('t1', 2, rights({ cause: 'online_escrow', hubReachable: true, availableAtLocation: 9 }), 'shipOut'),
      ],
      replicas,
    );
    expect(checks(shipped)).toEqual(['own-stock-refusal']);
  });

  it('does not fire for an empty shelf, an unreachable hub, too few units at the location or a top-up with no answer', () => {
    const history = [
      ...stocked,
      // The shelf holds fewer than the sale: the units are elsewhere or nowhere.
      ...refused('empty', 3, rights({ cause: 'location_empty', hubReachable: true, availableAtLocation: 1 })),
      // Offline: no answer from the hub, so nothing says the location held the units.
      ...refused('offline', 2, rights({ cause: 'hub_unreachable', hubReachable: false })),
      // The hub answered, but the link was down again by the time the store answered the till.
      ...refused('lost', 2, rights({ cause: 'topup_timeout', hubReachable: false, availableAtLocation: 5 })),
      // The hub answered: the location held fewer than asked (the rest promised online).
      ...refused('short', 4, rights({ cause: 'online_escrow', hubReachable: true, availableAtLocation: 3 })),
      // Connected, but the top-up did not settle in time and no answer came.
      ...refused('slow', 1, rights({ cause: 'topup_timeout', hubReachable: true })),
      // Another refusal altogether, and one with no readable answer.
      ...refused('cap', 5, { code: 'OVERRIDE_CAP_EXCEEDED', hubReachable: true, availableAtLocation: 9 }),
      ...refused('mute', 1, undefined),
    ];
    const verdict = checkHistory(history, replicas);
    expect(verdict.violations).toEqual([]);
    expect(verdict.ok).toBe(true);
  });

  it('counts failed sales and ship-outs by cause, each operation once, retries settled by their last answer', () => {
    const history = [
      ...stocked,
      ...refused('a', 1, rights({ cause: 'location_empty', hubReachable: true, availableAtLocation: 0 })),
      ...refused('b', 1, rights({ cause: 'location_empty', hubReachable: false })),
      ...refused('c', 1, rights({ cause: 'hub_unreachable', hubReachable: false }), 'shipOut'),
      ...refused('d', 2, rights({ cause: 'online_escrow', hubReachable: true, availableAtLocation: 1 })),
      ...refused('e', 1, undefined),
      // Unanswered during the run, refused on the retry: counted once, by the retry's cause.
      ev('f', 'sell', 1, 'invoke'),
      ev('f', 'sell', 1, 'unknown'),
      { ...ev('f', 'sell', 1, 'fail'), refusal: rights({ cause: 'topup_timeout', hubReachable: true }) },
      // Not a sale: a failed receipt or reservation is not a refusal of a sale.
      ev('g', 'reserve', 1, 'invoke'),
      ev('g', 'reserve', 1, 'fail'),
    ];
    const verdict = checkHistory(history, replicas);
    expect(verdict.ok).toBe(true);
    expect(verdict.refusals).toEqual({
      location_empty: 2,
      hub_unreachable: 1,
      online_escrow: 1,
      topup_timeout: 1,
      other: 1,
    });
    expect(checkHistory([], {}).refusals).toEqual({
      location_empty: 0,
      hub_unreachable: 0,
      online_escrow: 0,
      topup_timeout: 0,
      other: 0,
    });
  });
});
