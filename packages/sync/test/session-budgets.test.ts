import { CloseCode, ErrorCode, storeAccount, type Sku, type StoreId } from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  HELLO_DIRTY_BYTES,
  HelloSchema,
  MAX_HELLO_DIRTY,
  PROTOCOL_VERSION,
  SyncMessageType,
  TokenBucket,
  WelcomeSchema,
  encodeControlFrame,
  encodeDocFrame,
  helloDirty,
  type HubSyncOptions,
} from '../src/index.js';
import { TestHub, TestStore, sku } from '../src/testing/index.js';
import { rawSession as rawSessionAs, until } from './support/raw-session.js';

const receive = (id: StoreId, quantity: number) => ({ type: 'receive' as const, account: storeAccount(id), quantity });
const A = 'A' as StoreId;
const rawSession = (hub: TestHub, hello: { dirty?: Sku[]; dirtyTotal?: number } = {}) => rawSessionAs(hub, A, hello);
const EMPTY_STATE_VECTOR = Y.encodeStateVector(new Y.Doc());

const step1 = (i: number): Uint8Array => encodeDocFrame(`SKU-${i}`, i + 1, SyncMessageType.Step1, EMPTY_STATE_VECTOR);
const tight = (budget: Partial<HubSyncOptions>): Partial<HubSyncOptions> => ({
  step1Budget: { burst: 3, perSecond: 0 },
  topUpBudget: { burst: 3, perSecond: 0 },
  ...budget,
});

describe('per-session budgets at the hub', () => {
  it('an honest catch-up of many SKUs changed on both sides is never closed, even with a tiny budget', async () => {
    const hub = await TestHub.create(tight({}));
    const a = await TestStore.create('A');
    const b = await TestStore.create('B');
    b.connect(hub);
    for (let i = 0; i < 200; i++) await b.apply(sku(`B-${i}`), receive(b.id, 1));
    for (let i = 0; i < 200; i++) await a.apply(sku(`A-${i}`), receive(a.id, 1));
    await until(() => hub.storage.cursor() === 200);

    a.connect(hub);
    await until(() => a.caughtUpCount() === 1);
    await until(() => hub.storage.cursor() === 400);
    expect(a.sync.status().connected).toBe(true);
    expect(hub.events.some((e) => e.type === 'budget-exceeded')).toBe(false);
    expect(a.link?.sent.filter((f) => f.kind === 'doc' && f.type === SyncMessageType.Step1)).toHaveLength(400);
  });

  it('step 1s beyond the catch-up and the budget close the session with RequestBudgetExceeded, counted', async () => {
    const hub = await TestHub.create(tight({}));
    // The hello announces 5 dirty SKUs: 5 free step 1s, then 3 from the budget.
    const session = await rawSession(hub, { dirty: [0, 1, 2, 3, 4].map((i) => sku(`SKU-${i}`)) });
    for (let i = 0; i < 8; i++) session.send(step1(i));
    await until(() => session.acks() === 8);
    expect(session.closed()).toBe(0);
    session.send(step1(8));
    await until(() => session.closed() === CloseCode.RequestBudgetExceeded.code);
    expect(hub.events.filter((e) => e.type === 'budget-exceeded')).toEqual([
      { type: 'budget-exceeded', storeId: A, budget: 'step1' },
    ]);
    expect(session.received.at(-1)).toMatchObject({ kind: 'control', message: { code: ErrorCode.RateLimited } });
  });

  it('a claimed dirty count buys each SKU one free step 1, not repeated asks', async () => {
    const hub = await TestHub.create(tight({ step1Budget: { burst: 2, perSecond: 0 } }));
    const session = await rawSession(hub, { dirty: [sku('SKU-0')], dirtyTotal: 1_000 });
    // The same SKU again and again: the first ask is free, the next two take the budget, the fourth closes.
    for (let i = 0; i < 3; i++) session.send(step1(0));
    await until(() => session.acks() === 3);
    expect(session.closed()).toBe(0);
    session.send(step1(0));
    await until(() => session.closed() === CloseCode.RequestBudgetExceeded.code);
  });

  it('a hello that lists only part of its dirty SKUs budgets the catch-up on dirtyTotal', async () => {
    const hub = await TestHub.create(tight({ step1Budget: { burst: 0, perSecond: 0 } }));
    const session = await rawSession(hub, { dirty: [sku('SKU-0')], dirtyTotal: 20 });
    for (let i = 0; i < 20; i++) session.send(step1(i));
    await until(() => session.acks() === 20);
    session.send(step1(20));
    await until(() => session.closed() === CloseCode.RequestBudgetExceeded.code);
  });

  it('a flood of top-up requests is closed the same way; requests within the budget are answered', async () => {
    const hub = await TestHub.create(tight({}));
    const session = await rawSession(hub);
    const topUp = (ref: number): Uint8Array =>
      encodeControlFrame({ type: 'topup', ref, sku: sku('MUG-1'), quantity: 1, client: 7, clock: 0 });
    for (let ref = 1; ref <= 3; ref++) session.send(topUp(ref));
    await until(() => session.acks() === 3);
    session.send(topUp(4));
    await until(() => session.closed() === CloseCode.RequestBudgetExceeded.code);
    expect(hub.events.filter((e) => e.type === 'budget-exceeded')).toEqual([
      { type: 'budget-exceeded', storeId: A, budget: 'topup' },
    ]);
  });

  it("the store's error reports count toward the invalid limit: a flood of them closes the session", async () => {
    const hub = await TestHub.create({ maxInvalidUpdates: 3 });
    const session = await rawSession(hub);
    const report = encodeControlFrame({ type: 'error', code: ErrorCode.ValidationFailed, detail: 'noise' });
    for (let i = 0; i < 3; i++) session.send(report);
    await until(() => hub.events.filter((e) => e.type === 'protocol-error').length === 3);
    expect(session.closed()).toBe(0);
    session.send(report);
    await until(() => session.closed() === CloseCode.TooManyInvalidUpdates.code);
  });

  it('a token bucket refills at its rate, up to its burst', () => {
    let now = 0;
    const bucket = new TokenBucket({ burst: 2, perSecond: 4 }, () => now);
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, false]);
    now += 250;
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
    now += 10_000;
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, false]);
  });
});

describe('bounded lists', () => {
  it('the hello lists at most MAX_HELLO_DIRTY SKUs and HELLO_DIRTY_BYTES of names, and counts the rest', () => {
    const short = Array.from({ length: MAX_HELLO_DIRTY + 5 }, (_, i) => sku(`S${i}`));
    expect(helloDirty(short)).toEqual({ dirty: short.slice(0, MAX_HELLO_DIRTY), dirtyTotal: MAX_HELLO_DIRTY + 5 });
    const long = Array.from({ length: 20_000 }, (_, i) => sku(`${String(i).padStart(5, '0')}${'x'.repeat(59)}`));
    const { dirty, dirtyTotal } = helloDirty(long);
    expect(dirtyTotal).toBe(20_000);
    expect(dirty.length).toBe(Math.floor(HELLO_DIRTY_BYTES / 67));
    // The whole hello stays under the hub's 2 MiB frame cap.
    const frame = encodeControlFrame({
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      storeId: A,
      epoch: null,
      cursor: 0,
      dirty,
      dirtyTotal: 20_000,
    });
    expect(frame.byteLength).toBeLessThan(2 * 1024 * 1024);
    const few = [sku('A'), sku('B')];
    expect(helloDirty(few)).toEqual({ dirty: few });
  });

  it('hello and welcome lists past their bounds do not parse', () => {
    const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `S${i}`);
    const hello = { type: 'hello', protocol: PROTOCOL_VERSION, storeId: 'A', epoch: null, cursor: 0 };
    expect(HelloSchema.safeParse({ ...hello, dirty: names(MAX_HELLO_DIRTY) }).success).toBe(true);
    expect(HelloSchema.safeParse({ ...hello, dirty: names(MAX_HELLO_DIRTY + 1) }).success).toBe(false);
    expect(HelloSchema.safeParse({ ...hello, dirty: [], dirtyTotal: 1_000_001 }).success).toBe(false);
    const welcome = { type: 'welcome', protocol: PROTOCOL_VERSION, epoch: 'e', cursor: 0, overrideCap: 0 };
    expect(WelcomeSchema.safeParse({ ...welcome, changed: names(1_000_001) }).success).toBe(false);
  });
});
