import { StoreIdSchema } from '@shelfsync/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultDriver, type FaultTarget } from '../src/sim/faults.js';
import { HistoryRecorder } from '../src/sim/history.js';
import type { Answer } from '../src/sim/sim-client.js';
import { Workload, type Operation } from '../src/sim/workload.js';
import { TcpProxy } from '../src/tcp-proxy.js';

const storeIds = ['store-1', 'store-2', 'store-3'].map((id) => StoreIdSchema.parse(id));
const endpoints = { hubUrl: 'http://hub', storeUrl: (i: number) => `http://store-${i}` };
const workload = (seed: number, overrideCap = 0): Workload =>
  new Workload({ seed, storeIds, skus: 4, overrideCap, managerToken: 'manager' }, endpoints);

const answered = (status: number, body: Record<string, unknown> = {}, replayed = false): Answer => ({
  outcome: 'answered',
  status,
  body,
  replayed,
});

describe('the seeded workload', () => {
  it('gives the same operations for the same seed, and others for another', () => {
    const run = (seed: number): (Operation | null)[] => {
      const w = workload(seed, 2);
      return Array.from({ length: 300 }, (_, i) => w.next(i));
    };
    expect(run(5)).toEqual(run(5));
    expect(run(5)).not.toEqual(run(6));
    const ops = run(5).filter((op) => op !== null);
    // Sales, receipts, returns, transfers and counts at the stores, reservations at the hub, some under the override.
    expect(new Set(ops.map((op) => op.kind))).toEqual(
      new Set(['sell', 'receive', 'return', 'shipOut', 'receiveTransfer', 'count', 'reserve']),
    );
    expect(ops.some((op) => op.headers?.['x-manager-token'] === 'manager')).toBe(true);
    for (const op of ops) {
      expect(op.key).toBe(op.id);
      expect(op.url.startsWith(op.kind === 'reserve' ? 'http://hub/' : `http://store-${op.store}/`)).toBe(true);
      expect(op.auth).toBe(op.kind === 'reserve');
    }
  });

  it('closes only reservations it was told are held, without an idempotency key', () => {
    const w = workload(9);
    const closing = (): Operation[] =>
      Array.from({ length: 400 }, (_, i) => w.next(i)).filter(
        (op): op is Operation => op !== null && (op.kind === 'confirm' || op.kind === 'cancel'),
      );
    expect(closing()).toEqual([]);
    w.hold({ id: 'r_1', sku: 'SIM-002', quantity: 2 });
    const [close, ...rest] = closing();
    expect(rest).toEqual([]);
    expect(close).toMatchObject({ id: `r_1:${close?.kind}`, sku: 'SIM-002', quantity: 2, auth: true });
    expect(close?.url).toBe(`http://hub/v1/reservations/r_1/${close?.kind}`);
    expect(close?.key).toBeUndefined();
  });

  it('draws the bursts before a kill from their own stream: the workload stays the same', () => {
    const plain = workload(3);
    const bursting = workload(3);
    const burst = bursting.burst(1);
    expect(burst.map((op) => [op.id, op.kind, op.url])).toEqual(
      Array.from({ length: 8 }, (_, i) => [`burst-3-${i + 1}`, 'sell', 'http://store-1/v1/sales']),
    );
    expect(bursting.burst(null).every((op) => op.kind === 'reserve' && op.auth)).toBe(true);
    expect(Array.from({ length: 50 }, (_, i) => bursting.next(i))).toEqual(
      Array.from({ length: 50 }, (_, i) => plain.next(i)),
    );
  });

  it('sets up every SKU at every store, store by store', () => {
    const setup = workload(1).setup();
    expect(setup).toHaveLength(12);
    expect(setup[0]).toMatchObject({
      id: 'setup-0-SIM-001',
      kind: 'receive',
      quantity: 40,
      url: 'http://store-0/v1/receipts',
    });
    expect(setup.at(-1)?.id).toBe('setup-2-SIM-004');
  });
});

describe('the history recorder', () => {
  const sale = (id: string): Operation => ({
    id,
    kind: 'sell',
    sku: 'SIM-001',
    quantity: 1,
    url: 'http://store-0/v1/sales',
    body: {},
    auth: false,
    key: id,
    store: 0,
  });

  it('records an invoke and an end; a 5xx other than 503 and no answer are unknown, refusals definite', () => {
    const history = new HistoryRecorder();
    const ends: [string, Answer][] = [
      ['ok', answered(201)],
      ['refused', { outcome: 'refused' }],
      ['busy', answered(503)],
      ['broken', answered(500)],
      ['lost', { outcome: 'unknown' }],
      ['rights', answered(409, { code: 'INSUFFICIENT_RIGHTS', details: { cause: 'location_empty' } })],
    ];
    for (const [id, answer] of ends) {
      history.invoke(sale(id), false, id === 'lost');
      history.end(sale(id), answer, false);
    }
    expect(Object.fromEntries(history.ends)).toEqual({
      ok: 'ok',
      refused: 'fail',
      busy: 'fail',
      broken: 'unknown',
      lost: 'unknown',
      rights: 'fail',
    });
    expect(history.events.filter((e) => e.phase === 'invoke')).toHaveLength(6);
    expect(history.events.find((e) => e.id === 'rights' && e.phase === 'fail')).toMatchObject({
      refusal: { code: 'INSUFFICIENT_RIGHTS', cause: 'location_empty' },
    });
    expect([...history.soldWhileCut]).toEqual(['lost']);
    expect(history.unanswered().map((op) => op?.id)).toEqual(['broken', 'lost']);
    expect(history.counts()).toEqual({ ok: 1, fail: 3, unknown: 2 });
  });

  it('lets a retry settle an unknown end, never a definite one, and counts answers from the idempotency record', () => {
    const history = new HistoryRecorder();
    history.invoke(sale('a'), false, false);
    history.end(sale('a'), { outcome: 'unknown' }, false);
    history.invoke(sale('a'), true, false);
    history.end(sale('a'), answered(201, { overridden: 2 }, true), true);
    expect(history.ends.get('a')).toBe('ok');
    expect(history.retriedReplayed).toBe(1);
    expect(history.overriddenUnits).toBe(2);
    // A retry is not invoked again: one invoke, two ends.
    expect(history.events.map((e) => e.phase)).toEqual(['invoke', 'unknown', 'ok']);
    history.end(sale('a'), answered(409), true);
    expect(history.ends.get('a')).toBe('ok');
  });

  it('keeps the reservations made, and counts their expiries by kind', () => {
    const history = new HistoryRecorder();
    const reserve: Operation = { ...sale('r'), kind: 'reserve', url: 'http://hub/v1/reservations', auth: true };
    history.invoke(reserve, false, false);
    const made = history.end(reserve, answered(201, { id: 'r_9' }), false);
    expect(made).toEqual({ id: 'r_9', sku: 'SIM-001', quantity: 1 });
    expect(history.reservations).toEqual([made]);
    if (made !== undefined) history.expired(made);
    expect(history.byKind()).toEqual({
      reserve: { ok: 1, fail: 0, unknown: 0 },
      expire: { ok: 1, fail: 0, unknown: 0 },
    });
  });
});

describe('the fault driver', () => {
  const proxies: TcpProxy[] = [];
  afterEach(async () => {
    for (const proxy of proxies.splice(0)) await proxy.close();
  });

  it('applies steps in time order as they fall due, bursts before a kill, tracks cuts, and heals', async () => {
    proxies.push(await TcpProxy.start(1), await TcpProxy.start(1));
    const calls: string[] = [];
    const cluster: FaultTarget = {
      storeIds: storeIds.slice(0, 2),
      proxy: (i) => proxies[i],
      allProxies: proxies,
      killStore: (i) => Promise.resolve(void calls.push(`kill ${i}`)),
      restartStore: (i) => Promise.resolve(void calls.push(`restart ${i}`)),
      killHub: () => Promise.resolve(void calls.push('kill hub')),
      restartHub: () => Promise.resolve(void calls.push('restart hub')),
      restartStopped: () => Promise.resolve(void calls.push('restart stopped')),
    };
    const driver = new FaultDriver(
      [
        { atMs: 300, fault: 'kill-hub' },
        { atMs: 100, fault: 'hold', store: 0 },
        { atMs: 200, fault: 'kill-store', store: 1 },
        { atMs: 400, fault: 'degrade', store: 1, latencyMs: 20, jitterMs: 5, bandwidth: 0 },
      ],
      cluster,
      (store) => Promise.resolve(void calls.push(`burst ${store ?? 'hub'}`)),
    );
    let now = 150;
    await driver.applyDue(() => now);
    expect(driver.applied.map((a) => a.step.fault)).toEqual(['hold']);
    expect(driver.isCut(0)).toBe(true);
    expect(driver.isCut(1)).toBe(false);
    expect(driver.describe()).toBe('store-1 held');
    now = 450;
    await driver.applyDue(() => now);
    expect(driver.applied.map((a) => [a.atMs, a.step.fault])).toEqual([
      [150, 'hold'],
      [450, 'kill-store'],
      [450, 'kill-hub'],
      [450, 'degrade'],
    ]);
    expect(calls).toEqual(['burst 1', 'kill 1', 'burst hub', 'kill hub']);
    // The hub is down: every store still alive is cut off; a killed one is not.
    expect(driver.isCut(0)).toBe(true);
    expect(driver.isCut(1)).toBe(false);
    expect(driver.describe()).toBe('store-1 held, store-2 lagging 20+5 ms, hub killed');
    await driver.heal();
    expect(driver.describe()).toBe('none');
    expect(calls.at(-1)).toBe('restart stopped');
  });
});
