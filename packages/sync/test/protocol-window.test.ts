import { AllocatorConfigSchema } from '@shelfsync/escrow';
import { CloseCode, ErrorCode, SkuSchema, storeAccount, type StoreId } from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ControlMessageSchema,
  HubAllocator,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  createTransportPair,
  decodeFrame,
  encodeControlFrame,
  forProtocol,
  withTopUp,
  type Frame,
} from '../src/index.js';
import { TestHub, TestStore, sku } from '../src/testing/index.js';
import { until } from './support/raw-session.js';

/** Version 4's release, as a store of that version parses it: strict, so a newer field would be refused. */
const ReleaseV4Schema = z.strictObject({ type: z.literal('release'), sku: SkuSchema, target: z.int().min(0) });

describe('the protocol version window', () => {
  it('the window is documented in code: 4 is the oldest version a hub takes, 7 the newest', () => {
    expect(MIN_PROTOCOL_VERSION).toBe(4);
    expect(PROTOCOL_VERSION).toBe(7);
    // What version 5 added is left out for a version 4 peer, and nothing else changes.
    const release = { type: 'release' as const, sku: sku('A'), target: 3, client: 7, clock: 9 };
    expect(forProtocol(release, 4)).toEqual({ type: 'release', sku: sku('A'), target: 3 });
    // Its hub clock may name a schema version 2 id, which a store older than 6 never holds.
    expect(forProtocol(release, 5)).toEqual({ type: 'release', sku: sku('A'), target: 3 });
    expect(forProtocol(release, 6)).toEqual(release);
    const report = { type: 'refused' as const, sku: sku('A'), quantity: 1, cause: 'hub_unreachable' as const, at: 1 };
    expect(forProtocol(report, 4)).toBeNull();
    const ack = { type: 'ack' as const, ref: 1 };
    expect(forProtocol(ack, 4)).toEqual(ack);
  });

  it('a store one version older syncs with a newer hub: catch-up, sales both ways, a top-up and a release', async () => {
    const hub = await TestHub.create();
    const allocator = new HubAllocator(hub.storage, hub.engine, hub.sync, AllocatorConfigSchema.parse({}), () => 1_000);
    hub.sync.useAllocator(allocator);
    const older = await TestStore.create('older', undefined, MIN_PROTOCOL_VERSION);
    // A whole replica (protocol 6), so it counts the older store's units too.
    const newer = await TestStore.create('newer', undefined, 6);
    older.connect(hub);
    newer.connect(hub);
    await until(() => older.caughtUpCount() === 1 && newer.caughtUpCount() === 1);
    // It said hello in its own version, and the hub welcomed it in that version (else it would have closed).
    const hello = older.link?.sent.find((f) => f.kind === 'control' && f.message.type === 'hello');
    expect(hello?.kind === 'control' && hello.message.type === 'hello' && hello.message.protocol).toBe(4);

    const mug = sku('MUG-1');
    const olderId = older.id;
    expect((await older.apply(mug, { type: 'receive', account: storeAccount(olderId), quantity: 10 })).ok).toBe(true);
    expect((await newer.apply(mug, { type: 'receive', account: storeAccount(newer.id), quantity: 5 })).ok).toBe(true);
    // Policy v2: each escrow keeps its floor, asked of each store as a release.
    await until(async () => (await hub.stock(mug)).locations[olderId]?.onlineRights === 1);
    await until(async () => (await older.stock(mug)).value === 15 && (await newer.stock(mug)).value === 15);

    // A sale beyond the older store's till: topped up from its escrow, over its own protocol.
    const doc = await older.storage.open(mug);
    const sale = { type: 'sell' as const, account: storeAccount(olderId), quantity: 10 };
    const first = older.commitLocal(doc, mug, sale);
    expect(first.result.ok).toBe(false);
    const outcome = await withTopUp(older.sync, doc, mug, first, () => older.commitLocal(doc, mug, sale), 5_000);
    expect(outcome.result.ok).toBe(true);
    await outcome.durable;
    await until(async () => (await hub.stock(mug)).value === 5);
    expect(hub.events.filter((e) => e.type === 'protocol-error')).toEqual([]);
    expect(older.events.filter((e) => e.type === 'protocol-error' || e.type === 'closed')).toEqual([]);
  });

  it('what the hub sends a version 4 store parses under version 4 rules', async () => {
    const hub = await TestHub.create();
    const allocator = new HubAllocator(hub.storage, hub.engine, hub.sync, AllocatorConfigSchema.parse({}), () => 1_000);
    hub.sync.useAllocator(allocator);
    const [storeSide, hubSide] = createTransportPair();
    const received: Frame[] = [];
    storeSide.onMessage((bytes) => received.push(decodeFrame(bytes)));
    const id = 'old' as StoreId;
    hub.sync.connect(id, hubSide);
    storeSide.send(encodeControlFrame({ type: 'hello', protocol: 4, storeId: id, epoch: null, cursor: 0, dirty: [] }));
    await until(() => received.some((f) => f.kind === 'control' && f.message.type === 'welcome'));
    const welcome = received.find((f) => f.kind === 'control' && f.message.type === 'welcome');
    expect(welcome?.kind === 'control' && welcome.message.type === 'welcome' && welcome.message.protocol).toBe(4);
    // A release as the hub writes it today, with its clock: the version 4 store gets it without.
    expect(hub.sync.send(id, { type: 'release', sku: sku('LAMP'), target: 3, client: 1, clock: 2 })).toBe(true);
    await until(() => received.some((f) => f.kind === 'control' && f.message.type === 'release'));
    for (const frame of received) {
      if (frame.kind !== 'control') continue;
      if (frame.message.type === 'release') expect(ReleaseV4Schema.safeParse(frame.message).success).toBe(true);
      expect(ControlMessageSchema.safeParse(frame.message).success).toBe(true);
    }
  });

  it('a store outside the window is refused with 4406 and told the window', async () => {
    const hub = await TestHub.create();
    for (const protocol of [MIN_PROTOCOL_VERSION - 1, PROTOCOL_VERSION + 1]) {
      const [storeSide, hubSide] = createTransportPair();
      const received: Frame[] = [];
      let closed = 0;
      storeSide.onMessage((bytes) => received.push(decodeFrame(bytes)));
      storeSide.onClose((code) => (closed = code));
      hub.sync.connect('far' as StoreId, hubSide);
      storeSide.send(
        encodeControlFrame({ type: 'hello', protocol, storeId: 'far' as StoreId, epoch: null, cursor: 0, dirty: [] }),
      );
      await until(() => closed === CloseCode.UnsupportedProtocol.code);
      const error = received.find((f) => f.kind === 'control' && f.message.type === 'error');
      expect(error?.kind === 'control' && error.message.type === 'error' && error.message).toMatchObject({
        code: ErrorCode.ValidationFailed,
        detail: expect.stringContaining(`${MIN_PROTOCOL_VERSION} to ${PROTOCOL_VERSION}`) as unknown,
      });
    }
  });
});
