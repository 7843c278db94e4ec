import { storeAccount, type StoreId } from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import {
  ControlMessageSchema,
  REPORT_MAX_AGE_MS,
  RefusedSchema,
  createTransportPair,
  encodeControlFrame,
  type HubSyncEvent,
  type HubSyncOptions,
  type Refused,
} from '../src/index.js';
import { TestHub, TestStore, sku } from '../src/testing/index.js';
import { emptyWelcome, rawSession as rawSessionAs, until } from './support/raw-session.js';

const A = 'A' as StoreId;
const rawSession = (hub: TestHub) => rawSessionAs(hub, A);
const MUG = sku('MUG-1');
const NOW = 1_700_000_000_000;

const report = (fields: Partial<Refused> = {}): Refused => ({
  type: 'refused',
  sku: MUG,
  quantity: 2,
  cause: 'hub_unreachable',
  at: NOW - 1_000,
  ...fields,
});

const refusedEvents = (events: readonly HubSyncEvent[]) => events.filter((e) => e.type === 'refused');
const dropped = (events: readonly HubSyncEvent[]) => events.filter((e) => e.type === 'refusal-report-dropped');

const hubAt = (options: Partial<HubSyncOptions> = {}) => TestHub.create({ now: () => NOW, ...options });

describe('the refused control message', () => {
  it('parses a bounded report, in the control union', () => {
    expect(RefusedSchema.parse(report())).toEqual(report());
    expect(ControlMessageSchema.parse(report({ chainAvailable: 12 }))).toEqual(report({ chainAvailable: 12 }));
    for (const cause of ['location_empty', 'hub_unreachable', 'online_escrow', 'topup_timeout'] as const) {
      expect(RefusedSchema.safeParse(report({ cause })).success).toBe(true);
    }
  });

  it('refuses unknown causes and fields, and numbers out of bounds', () => {
    const bad: unknown[] = [
      { ...report(), cause: 'escrow' },
      { ...report(), extra: 1 },
      { ...report(), quantity: 0 },
      { ...report(), quantity: 1.5 },
      { ...report(), quantity: 1_000_000_001 },
      { ...report(), at: -1 },
      { ...report(), at: 9e15 },
      { ...report(), chainAvailable: -1 },
      { ...report(), sku: 'not a sku' },
      { type: 'refused', sku: MUG, quantity: 1, cause: 'location_empty' },
    ];
    for (const message of bad) expect(ControlMessageSchema.safeParse(message).success).toBe(false);
  });
});

describe('refusal reports at the hub', () => {
  it('become events with the time clamped into the last 30 minutes; nothing is answered', async () => {
    const hub = await hubAt();
    const session = await rawSession(hub);
    const before = session.received.length;
    session.sendControl(report({ chainAvailable: 7 }));
    session.sendControl(report({ cause: 'location_empty', at: NOW + 3_600_000 }));
    session.sendControl(report({ cause: 'topup_timeout', at: 0 }));
    await until(() => refusedEvents(hub.events).length === 3);
    expect(refusedEvents(hub.events)).toEqual([
      {
        type: 'refused',
        storeId: A,
        sku: MUG,
        quantity: 2,
        cause: 'hub_unreachable',
        at: NOW - 1_000,
        chainAvailable: 7,
      },
      { type: 'refused', storeId: A, sku: MUG, quantity: 2, cause: 'location_empty', at: NOW, chainAvailable: null },
      {
        type: 'refused',
        storeId: A,
        sku: MUG,
        quantity: 2,
        cause: 'topup_timeout',
        at: NOW - REPORT_MAX_AGE_MS,
        chainAvailable: null,
      },
    ]);
    expect(session.received).toHaveLength(before);
    expect(session.closed()).toBe(0);
  });

  it('past the session budget are dropped and counted, and the session goes on', async () => {
    const hub = await hubAt({ reportBudget: { burst: 3, perSecond: 0 } });
    const session = await rawSession(hub);
    for (let i = 0; i < 5; i++) session.sendControl(report({ quantity: i + 1 }));
    await until(() => refusedEvents(hub.events).length + dropped(hub.events).length === 5);
    expect(refusedEvents(hub.events).map((e) => (e.type === 'refused' ? e.quantity : 0))).toEqual([1, 2, 3]);
    expect(dropped(hub.events)).toEqual([
      { type: 'refusal-report-dropped', storeId: A },
      { type: 'refusal-report-dropped', storeId: A },
    ]);
    expect(hub.events.some((e) => e.type === 'budget-exceeded' || e.type === 'protocol-error')).toBe(false);
    expect(session.closed()).toBe(0);
    expect(hub.sync.storeLinks()).toMatchObject([{ storeId: A, connected: true }]);
  });

  it('the default budget takes a burst of 200 and refills at 20 a second', async () => {
    let now = NOW;
    const hub = await TestHub.create({ now: () => now });
    const session = await rawSession(hub);
    for (let i = 0; i < 201; i++) session.sendControl(report());
    await until(() => refusedEvents(hub.events).length + dropped(hub.events).length === 201);
    expect(refusedEvents(hub.events)).toHaveLength(200);
    now += 1_000;
    for (let i = 0; i < 21; i++) session.sendControl(report());
    await until(() => refusedEvents(hub.events).length + dropped(hub.events).length === 222);
    expect(refusedEvents(hub.events)).toHaveLength(220);
    expect(session.closed()).toBe(0);
  });
});

describe('refusal reports from a store', () => {
  const sell = (id: StoreId, quantity: number) => ({ type: 'sell' as const, account: storeAccount(id), quantity });

  it('are sent at once while connected and caught up', async () => {
    const hub = await TestHub.create();
    const a = await TestStore.create('A');
    a.connect(hub);
    await until(() => a.caughtUpCount() === 1);
    a.sync.reportRefusal({ sku: MUG, quantity: 3, cause: 'online_escrow', chainAvailable: 40, at: NOW });
    await until(() => refusedEvents(hub.events).length === 1);
    expect(refusedEvents(hub.events)[0]).toMatchObject({ storeId: A, sku: MUG, quantity: 3, cause: 'online_escrow' });
    expect(a.sync.refusalReportsQueued).toBe(0);
  });

  it('made while cut off arrive after the reconnect with their own time; past 256 the oldest are dropped and counted', async () => {
    const hub = await TestHub.create();
    const a = await TestStore.create('A');
    // Cut off from the start, with a receipt to catch up: the reports wait for the catch-up.
    expect((await a.apply(MUG, { type: 'receive', account: storeAccount(a.id), quantity: 1 })).ok).toBe(true);
    expect((await a.apply(MUG, sell(a.id, 2))).ok).toBe(false);
    const start = Date.now() - 60_000;
    for (let i = 0; i < 300; i++) {
      a.sync.reportRefusal({ sku: MUG, quantity: 2, cause: 'location_empty', chainAvailable: -3, at: start + i });
    }
    expect(a.sync.refusalReportsQueued).toBe(256);
    expect(a.sync.refusalReportsDropped).toBe(44);

    a.connect(hub);
    await until(() => a.caughtUpCount() === 1);
    // The store's own budget sends 100 at once (the hub's takes 200), then 10 a second.
    await until(() => refusedEvents(hub.events).length >= 105);
    const first = refusedEvents(hub.events)[0];
    // The oldest kept: the 45th refusal, with the time it was made; a negative chain figure goes as 0.
    expect(first).toMatchObject({ type: 'refused', storeId: A, at: start + 44, chainAvailable: 0 });
    expect(a.events).toContainEqual({ type: 'refusal-reports-dropped', count: 44 });
    expect(dropped(hub.events)).toEqual([]);
  }, 20_000);

  it('a store closes a link whose hub sends it a report', async () => {
    const [storeSide, hubSide] = createTransportPair();
    const a = await TestStore.create('A');
    const codes: number[] = [];
    hubSide.onClose((code) => codes.push(code));
    hubSide.onMessage(() => {
      hubSide.send(emptyWelcome());
      hubSide.send(encodeControlFrame(report()));
    });
    a.sync.attach(storeSide);
    await until(() => codes.length === 1);
    expect(a.events.some((e) => e.type === 'protocol-error' && e.detail.includes('refused'))).toBe(true);
  });
});
