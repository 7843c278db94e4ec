import { ErrorCode, storeAccount } from '@shelfsync/protocol';
import { MemoryStorageAdapter } from '@shelfsync/storage';
import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../src/index.js';
import * as Y from 'yjs';
import { SyncMessageType, createTransportPair, decodeFrame, type Transport } from '../src/index.js';
import { TestHub, TestStore, sku } from '../src/testing/index.js';
import { until } from './support/raw-session.js';

/** The store's side of a link that loses the first update frame it is asked to send after `armed` is set. */
function losingOne(transport: Transport): Transport & { armed: boolean; lost: number } {
  const link = {
    armed: false,
    lost: 0,
    send(frame: Uint8Array) {
      const decoded = decodeFrame(frame);
      if (link.armed && decoded.kind === 'doc' && decoded.type === SyncMessageType.Update) {
        link.armed = false;
        link.lost++;
        return;
      }
      transport.send(frame);
    },
    close: (code: number, reason: string) => transport.close(code, reason),
    get bufferedAmount() {
      return transport.bufferedAmount;
    },
    onMessage: (handler: (bytes: Uint8Array) => void) => transport.onMessage(handler),
    onClose: (handler: (code: number, reason: string) => void) => transport.onClose(handler),
  };
  return link;
}

describe('a SKU the hub finds out of step is resynced within the session', () => {
  it('a lost update makes the next one miss its dependency; the store exchanges the difference again and both converge, with no reconnection', async () => {
    const hub = await TestHub.create();
    const store = await TestStore.create('north');
    const [storeSide, hubSide] = createTransportPair();
    const link = losingOne(storeSide);
    hub.sync.connect(store.id, hubSide);
    store.sync.attach(link);
    await until(() => store.caughtUpCount() === 1);

    const mug = sku('MUG-1');
    const receive = (quantity: number) =>
      store.apply(mug, { type: 'receive', account: storeAccount(store.id), quantity });
    await receive(5);
    await until(async () => (await hub.stock(mug)).value === 5);
    link.armed = true;
    await receive(3); // lost on the way
    await receive(2); // builds on the lost one: the hub refuses it
    await until(() =>
      store.events.some((e) => e.type === 'rejected' && e.error.code === ErrorCode.UpdateMissingDependency),
    );
    expect(store.events.find((e) => e.type === 'rejected')).toMatchObject({ repeated: false });
    // The store asked for the difference again: the hub now holds everything, on the same connection.
    await until(async () => (await hub.stock(mug)).value === 10);
    expect(link.lost).toBe(1);
    expect(Y.encodeStateVector(await hub.storage.open(mug))).toEqual(
      Y.encodeStateVector(await store.storage.open(mug)),
    );
    expect(store.events.filter((e) => e.type === 'closed')).toEqual([]);
    await until(() => store.storage.dirtyCount() === 0);
  });

  it('a second refusal within the resync interval is resynced once the interval is over, not dropped', async () => {
    let now = 1_000_000;
    const hub = await TestHub.create();
    const store = await TestStore.create('north', new MemoryStorageAdapter(), PROTOCOL_VERSION, () => now);
    const [storeSide, hubSide] = createTransportPair();
    const link = losingOne(storeSide);
    hub.sync.connect(store.id, hubSide);
    store.sync.attach(link);
    await until(() => store.caughtUpCount() === 1);
    const mug = sku('MUG-2');
    const receive = (quantity: number) =>
      store.apply(mug, { type: 'receive', account: storeAccount(store.id), quantity });
    const refusals = () =>
      store.events.filter((e) => e.type === 'rejected' && e.error.code === ErrorCode.UpdateMissingDependency).length;
    await receive(5);
    link.armed = true;
    await receive(3);
    await receive(2);
    await until(async () => (await hub.stock(mug)).value === 10);
    // 4.9 s later by the sync's clock: the next resync is due in 100 ms.
    now += 4_900;
    link.armed = true;
    await receive(4);
    await receive(1);
    await until(() => refusals() === 2);
    await until(async () => (await hub.stock(mug)).value === 15);
    expect(link.lost).toBe(2);
    expect(Y.encodeStateVector(await hub.storage.open(mug))).toEqual(
      Y.encodeStateVector(await store.storage.open(mug)),
    );
    expect(store.events.filter((e) => e.type === 'closed')).toEqual([]);
  });

  it('a refusal counts as repeated only with the code the SKU was last refused with, until its changes are accepted', async () => {
    const store = await TestStore.create('north');
    const overdrawn = { code: ErrorCode.UpdateOverdrawn, detail: 'store:north would hold -1 rights' };
    expect(store.sync.recordRejected('MUG-1', overdrawn)).toBe(false);
    expect(store.sync.recordRejected('MUG-1', overdrawn)).toBe(true);
    expect(store.sync.recordRejected('TEA-1', overdrawn)).toBe(false);
    expect(store.sync.recordRejected('MUG-1', { code: ErrorCode.UpdateForeignEntry, detail: 'not its own' })).toBe(
      false,
    );
    store.sync.recordRejected('MUG-1', null);
    expect(store.sync.recordRejected('MUG-1', overdrawn)).toBe(false);
  });
});
