import { ErrorCode, CloseCode, HUB_WRITER, onlineAccount, storeAccount, type StoreId } from '@shelfsync/protocol';
import { applyOperation, computeStock } from '@shelfsync/core';
import type { Sku } from '@shelfsync/protocol';
import { forge } from '@shelfsync/core/testing';
import { MemoryStorageAdapter } from '@shelfsync/storage';
import { describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import {
  PROTOCOL_VERSION,
  SCHEMA_2_PROTOCOL,
  SyncMessageType,
  createTransportPair,
  encodeControlFrame,
  encodeDocFrame,
  type Transport,
} from '../src/index.js';
import { TestHub, TestStore, recording, sku } from '../src/testing/index.js';
import { GatedAdapter } from './support/gated-adapter.js';

const MUG = sku('MUG-1');
const TEA = sku('TEA-1');
const until = (condition: () => boolean | Promise<boolean>): Promise<void> =>
  vi.waitFor(async () => expect(await condition()).toBe(true), { timeout: 5000, interval: 2 });

const receive = (id: StoreId, quantity: number) => ({ type: 'receive' as const, account: storeAccount(id), quantity });
const sell = (id: StoreId, quantity: number) => ({ type: 'sell' as const, account: storeAccount(id), quantity });

/**
 * A store holding whole documents (protocol 6), which gets every store's changes
 * relayed: what this file exercises. Stores holding their share (the default,
 * protocol 7) are tested in share-relay.test.ts and availability-summary.test.ts.
 */
const wholeReplica = (id: string, adapter = new MemoryStorageAdapter()): Promise<TestStore> =>
  TestStore.create(id, adapter, SCHEMA_2_PROTOCOL);

/** A hub and two stores, connected and caught up. */
async function chainOfTwo(ids: [string, string] = ['A', 'B'], options: Parameters<typeof TestHub.create>[0] = {}) {
  const hub = await TestHub.create(options);
  const a = await wholeReplica(ids[0]);
  const b = await wholeReplica(ids[1]);
  a.connect(hub);
  b.connect(hub);
  await until(() => a.caughtUpCount() === 1 && b.caughtUpCount() === 1);
  return { hub, a, b };
}

describe('sync over one connection per store', () => {
  it('a sale reaches the hub and the other stores; all replicas converge', async () => {
    const { hub, a, b } = await chainOfTwo();

    await a.apply(MUG, receive(a.id, 10));
    await a.apply(MUG, sell(a.id, 3));
    await until(async () => (await hub.stock(MUG)).value === 7);
    await until(async () => (await b.stock(MUG)).value === 7);
    expect(await a.storage.dirty()).toEqual([]);
    expect(Y.encodeStateVector(await b.storage.open(MUG))).toEqual(Y.encodeStateVector(await hub.storage.open(MUG)));
  });

  it('a store sells offline; on reconnect only the changed SKUs are exchanged and nothing is lost', async () => {
    const { hub, a, b } = await chainOfTwo();
    for (let i = 0; i < 20; i++) await a.apply(sku(`SKU-${i}`), receive(a.id, 5));
    await until(() => hub.storage.cursor() === 20);
    await until(async () => (await b.stock(sku('SKU-19'))).value === 5);

    a.disconnect();
    await a.apply(MUG, receive(a.id, 4));
    await a.apply(MUG, sell(a.id, 4));
    expect(await a.storage.dirty()).toEqual([MUG]);
    await b.apply(TEA, receive(b.id, 2));
    await until(async () => (await hub.stock(TEA)).value === 2);

    a.connect(hub);
    await until(() => a.caughtUpCount() === 2);
    const handshakeStep1 = a.link?.sent.filter((f) => f.kind === 'doc' && f.type === SyncMessageType.Step1) ?? [];
    // 21 SKUs exist; only MUG (dirty here) and TEA (changed at the hub) are exchanged.
    expect(handshakeStep1.map((f) => (f.kind === 'doc' ? f.sku : '')).sort()).toEqual([MUG, TEA]);
    await until(async () => (await hub.stock(MUG)).committed === 4 && (await b.stock(MUG)).committed === 4);
    expect((await a.stock(TEA)).value).toBe(2);
    expect(await a.storage.dirty()).toEqual([]);
    await until(() => a.sync.status().cursor === hub.storage.cursor());
    // Saved lazily while live, and in full when the connection ends.
    a.disconnect();
    await until(async () => (await a.storage.loadCursor()).cursor === hub.storage.cursor());
  });

  it('local updates go out in the order they were made, even when they become durable in another order', async () => {
    const { hub, a } = await chainOfTwo();
    const doc = await a.storage.open(MUG);
    const updates: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => updates.push(u));
    const { applyOperation } = await import('@shelfsync/core');
    const { storeWriter } = await import('@shelfsync/protocol');
    applyOperation(doc, storeWriter(a.id), receive(a.id, 5));
    applyOperation(doc, storeWriter(a.id), sell(a.id, 1));
    applyOperation(doc, storeWriter(a.id), sell(a.id, 1));
    // The last write's fsync finishes first, the first one's last.
    const gates = updates.map(() => {
      let open: () => void = () => {};
      const durable = new Promise<void>((resolve) => {
        open = resolve;
      });
      return { durable, open };
    });
    updates.forEach((u, i) => a.sync.localUpdate(MUG, u, gates[i]?.durable));
    await new Promise((resolve) => setImmediate(resolve));
    const sentUpdates = () => a.link?.sent.filter((f) => f.kind === 'doc' && f.type === SyncMessageType.Update).length;
    expect(sentUpdates()).toBe(0); // nothing leaves before it is durable
    for (const gate of [...gates].reverse()) {
      gate.open();
      await Promise.resolve();
    }
    await until(async () => (await hub.stock(MUG)).value === 3);
    expect(sentUpdates()).toBe(3);
    expect(hub.events.filter((e) => e.type === 'rejected')).toEqual([]);
  });

  it('a store that reconnects with nothing changed on either side exchanges no SKU', async () => {
    const hub = await TestHub.create();
    const a = await wholeReplica('A');
    a.connect(hub);
    await until(() => a.caughtUpCount() === 1);
    for (let i = 0; i < 50; i++) await a.apply(sku(`SKU-${i}`), receive(a.id, 1));
    await until(async () => (await a.storage.dirty()).length === 0);
    a.disconnect();
    a.connect(hub);
    await until(() => a.caughtUpCount() === 2);
    expect(a.link?.sent.filter((f) => f.kind === 'doc')).toEqual([]);
  });

  it('relayed updates that build on something the store lacks are filled in with a step 1', async () => {
    const hub = await TestHub.create();
    const a = await wholeReplica('A');
    const b = await wholeReplica('B');
    a.connect(hub);
    await until(() => a.caughtUpCount() === 1);
    await a.apply(MUG, receive(a.id, 3));
    await until(async () => (await hub.stock(MUG)).value === 3);
    // b joins now, catches up MUG, and then sees a's later writes live.
    b.connect(hub);
    await until(() => b.caughtUpCount() === 1);
    await a.apply(MUG, sell(a.id, 1));
    await until(async () => (await b.stock(MUG)).value === 2);
  });
});

describe('a connection that ends with changes still queued at the hub', () => {
  it('the hub applies, stores and relays what the store sent before the close', async () => {
    const adapter = new GatedAdapter();
    const hub = await TestHub.create({}, adapter);
    const a = await wholeReplica('A');
    const b = await wholeReplica('B');
    a.connect(hub);
    b.connect(hub);
    await until(() => a.caughtUpCount() === 1 && b.caughtUpCount() === 1);

    // The hub's writes stall (a slow disk): the first change waits at the gate,
    // the second in the session's queue behind it, when the store goes away.
    adapter.hold();
    await a.apply(MUG, receive(a.id, 10));
    await adapter.waiting;
    await a.apply(MUG, sell(a.id, 3));
    await until(
      () => (a.link?.sent.filter((f) => f.kind === 'doc' && f.type === SyncMessageType.Update) ?? []).length === 2,
    );
    a.disconnect();
    adapter.letThrough();

    await until(async () => (await hub.stock(MUG)).value === 7);
    await until(async () => (await b.stock(MUG)).value === 7);
    // Stored, not only in memory: a hub reopened from its storage holds both.
    const reopened = await TestHub.create({}, adapter);
    expect((await reopened.stock(MUG)).value).toBe(7);
  });
});

/** A hub write as the allocator makes one: in turn with the SKU's other hub writes, applied, then committed. Not awaited. */
function hubReserves(hub: TestHub, target: Sku, account: string, quantity: number): { committed: Promise<number> } {
  const committed = hub.storage.hubWrite(target, async () => {
    const doc = await hub.storage.open(target);
    const updates: Uint8Array[] = [];
    const capture = (u: Uint8Array, origin: unknown): void => {
      if (origin === 'test-hub-write') updates.push(u);
    };
    doc.on('update', capture);
    const result = applyOperation(
      doc,
      HUB_WRITER,
      { type: 'reserve', account: onlineAccount(account as StoreId), quantity },
      'test-hub-write',
    );
    doc.off('update', capture);
    const [update] = updates;
    if (!result.ok || update === undefined) throw new Error('the reservation changed nothing');
    return hub.storage.commit(target, update);
  });
  return { committed };
}

/** Whether a document holds any change made under `clientId`. */
async function holdsChangesOf(store: TestStore, target: Sku, clientId: number): Promise<boolean> {
  return Y.decodeStateVector(Y.encodeStateVector(await store.storage.open(target))).has(clientId);
}

/** Lets queued callbacks and I/O run for a number of event-loop turns (not a timed wait). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('a session the hub ends', () => {
  it('takes nothing more from its queue: a cut link drops queued changes, which come again on reconnection', async () => {
    const adapter = new GatedAdapter();
    const hub = await TestHub.create({}, adapter);
    const a = await wholeReplica('A');
    a.connect(hub);
    await until(() => a.caughtUpCount() === 1);
    adapter.hold();
    await a.apply(MUG, receive(a.id, 10));
    await adapter.waiting;
    await a.apply(MUG, sell(a.id, 3));
    await until(
      () => (a.link?.sent.filter((f) => f.kind === 'doc' && f.type === SyncMessageType.Update) ?? []).length === 2,
    );
    expect(hub.sync.cutLink(a.id)).toBe(true);
    adapter.letThrough();
    await until(async () => (await hub.stock(MUG)).value === 10);
    await turns(20);
    // The sale queued behind the cut was not taken, as a partition would not have carried it.
    expect((await hub.stock(MUG)).value).toBe(10);
    expect(await a.storage.dirty()).toEqual([MUG]);

    hub.sync.restoreLink(a.id);
    a.connect(hub);
    await until(async () => (await hub.stock(MUG)).value === 7);
  });
});

describe('nothing leaves the hub before it is durable', () => {
  async function hubWithRights() {
    const adapter = new GatedAdapter();
    const hub = await TestHub.create({}, adapter);
    const a = await wholeReplica('A');
    a.connect(hub);
    await until(() => a.caughtUpCount() === 1);
    await a.apply(MUG, receive(a.id, 10));
    await a.apply(MUG, { type: 'transferRights', from: storeAccount(a.id), to: onlineAccount(a.id), quantity: 4 });
    await until(async () => (await hub.stock(MUG)).accounts[onlineAccount(a.id)] !== undefined);
    const hubClient = (await hub.storage.open(MUG)).clientID;
    return { adapter, hub, a, hubClient };
  }

  /**
   * A hub reservation held at the disk, and a store B that connects meanwhile and
   * asks for MUG (the welcome lists it) while the reservation is not durable.
   */
  async function catchUpDuringHubWrite(hub: TestHub, adapter: GatedAdapter) {
    adapter.hold();
    const { committed } = hubReserves(hub, MUG, 'A', 1);
    await adapter.waiting;
    const b = await wholeReplica('B');
    b.connect(hub);
    await until(
      () => b.link?.sent.some((f) => f.kind === 'doc' && f.sku === MUG && f.type === SyncMessageType.Step1) ?? false,
    );
    return { committed, b };
  }

  it('a step 1 answer waits until the hub’s own change in the document is on disk', async () => {
    const { adapter, hub, hubClient } = await hubWithRights();
    const { committed, b } = await catchUpDuringHubWrite(hub, adapter);
    await turns(20);
    expect(await holdsChangesOf(b, MUG, hubClient)).toBe(false);

    adapter.letThrough();
    await committed;
    await until(() => holdsChangesOf(b, MUG, hubClient));
    await until(async () => (await b.stock(MUG)).accounts[onlineAccount('A' as StoreId)]?.reserved === 1);
  });

  it('a durable read takes its turn between hub writes: it waits for earlier ones, never for later ones', async () => {
    const { adapter, hub } = await hubWithRights();
    adapter.hold();
    const first = hubReserves(hub, MUG, 'A', 1);
    await adapter.waiting;
    const hubDoc = await hub.storage.open(MUG);
    const read = hub.storage.readDurable(MUG, () => computeStock(hubDoc));
    const second = hubReserves(hub, MUG, 'A', 1);
    adapter.letThrough();
    // Under a steady stream of hub writes a step 1 is answered in turn, not starved.
    expect((await read).accounts[onlineAccount('A' as StoreId)]?.reserved).toBe(1);
    await Promise.all([first.committed, second.committed]);
    expect((await hub.stock(MUG)).accounts[onlineAccount('A' as StoreId)]?.reserved).toBe(2);
  });

  it('a failed hub write halts the hub: it never reaches a store, sessions close with 4500, new ones are refused', async () => {
    const { adapter, hub, a, hubClient } = await hubWithRights();
    const { committed, b } = await catchUpDuringHubWrite(hub, adapter);
    adapter.fail();
    await expect(committed).rejects.toThrow(/ENOSPC/);
    await until(() => hub.sync.halted !== null);
    expect(hub.events.some((e) => e.type === 'halted')).toBe(true);
    await turns(20);
    expect(await holdsChangesOf(b, MUG, hubClient)).toBe(false);
    expect(await holdsChangesOf(a, MUG, hubClient)).toBe(false);
    await until(() => !a.sync.status().connected && !b.sync.status().connected);
    for (const store of [a, b]) {
      expect(store.events).toContainEqual(
        expect.objectContaining({ type: 'closed', code: CloseCode.InternalError.code }),
      );
    }
    const [storeSide, hubSide] = createTransportPair();
    const refused: number[] = [];
    storeSide.onClose((code) => refused.push(code));
    expect(hub.sync.connect(a.id, hubSide)).toBeNull();
    await until(() => refused[0] === CloseCode.InternalError.code);
    await expect(hub.storage.readDurable(MUG, () => 'read')).rejects.toThrow(/ENOSPC/);
  });
});

describe('the hub refuses what a store may not do', () => {
  it('forged updates get a coded error, change nothing, and enough of them close the connection', async () => {
    const { hub, a, b } = await chainOfTwo(['store-0', 'store-1'], { maxInvalidUpdates: 3 });
    await a.apply(MUG, receive(a.id, 10));
    await b.apply(MUG, receive(b.id, 10));
    await until(async () => (await hub.stock(MUG)).value === 20);
    await until(async () => (await a.stock(MUG)).value === 20);

    const before = await hub.state(MUG);
    const doc = await a.storage.open(MUG);
    const kinds = ['foreignKey', 'decreaseTotal', 'overdraw', 'garbage'] as const;
    for (const [i, kind] of kinds.entries())
      a.link?.send(encodeDocFrame(MUG, 100 + i, SyncMessageType.Update, forge(doc, kind, i)));
    await until(() => a.events.filter((e) => e.type === 'closed').length === 1);
    const rejected = hub.events.filter((e) => e.type === 'rejected');
    expect(rejected.map((e) => (e.type === 'rejected' ? e.code : ''))).toEqual([
      ErrorCode.UpdateForeignEntry,
      ErrorCode.UpdateDecreasingTotal,
      ErrorCode.UpdateOverdrawn,
      expect.stringMatching(/^UPDATE_/) as unknown as string,
    ]);
    expect(a.events.filter((e) => e.type === 'rejected')).toHaveLength(4);
    expect(a.events.find((e) => e.type === 'closed')).toMatchObject({ code: CloseCode.TooManyInvalidUpdates.code });
    expect(await hub.state(MUG)).toEqual(before);
    expect(hub.sync.storeLinks().find((l) => l.storeId === a.id)).toMatchObject({
      connected: false,
      rejectedUpdates: 4,
    });
  });

  it('the handshake must come first, name the token’s store and speak this protocol', async () => {
    const hub = await TestHub.create();
    const cases: [Uint8Array, number][] = [
      [encodeDocFrame('MUG-1', 0, SyncMessageType.Step1, new Uint8Array([0])), CloseCode.BadRequest.code],
      [
        encodeControlFrame({
          type: 'hello',
          protocol: PROTOCOL_VERSION,
          storeId: 'B' as StoreId,
          epoch: null,
          cursor: 0,
          dirty: [],
        }),
        CloseCode.Forbidden.code,
      ],
      [
        encodeControlFrame({ type: 'hello', protocol: 99, storeId: 'A' as StoreId, epoch: null, cursor: 0, dirty: [] }),
        CloseCode.UnsupportedProtocol.code,
      ],
      [Uint8Array.from([7, 7, 7]), CloseCode.BadRequest.code],
    ];
    for (const [frame, code] of cases) {
      const [storeSide, hubSide] = createTransportPair();
      let closedWith = 0;
      storeSide.onClose((c) => {
        closedWith = c;
      });
      hub.sync.connect('A' as StoreId, hubSide);
      storeSide.send(frame);
      await until(() => closedWith !== 0);
      expect(closedWith).toBe(code);
    }
  });

  it('a connection that never says hello is closed after the handshake timeout', async () => {
    const hub = await TestHub.create({ handshakeTimeoutMs: 20 });
    const [storeSide, hubSide] = createTransportPair();
    let closedWith = 0;
    storeSide.onClose((c) => {
      closedWith = c;
    });
    hub.sync.connect('A' as StoreId, hubSide);
    await until(() => closedWith === CloseCode.HandshakeTimeout.code);
  });

  it('a store that reads too slowly is dropped instead of buffered without bound, and catches up later', async () => {
    const hub = await TestHub.create({ maxBufferedBytes: 64 * 1024 });
    const a = await wholeReplica('A');
    const b = await wholeReplica('B');
    const [storeSide, hubSide] = createTransportPair();
    // b's link pretends to be backed up.
    const stuck: Transport = {
      send: (frame) => hubSide.send(frame),
      close: (code, reason) => hubSide.close(code, reason),
      bufferedAmount: 1024 * 1024,
      onMessage: (handler) => hubSide.onMessage(handler),
      onClose: (handler) => hubSide.onClose(handler),
    };
    hub.sync.connect(b.id, stuck);
    b.sync.attach(recording(storeSide));
    await until(() => hub.sync.storeLinks().some((l) => l.storeId === b.id));
    a.connect(hub);
    await until(() => a.caughtUpCount() === 1);
    await a.apply(MUG, receive(a.id, 1));
    await until(() => hub.events.some((e) => e.type === 'slow-consumer' && e.storeId === b.id));
    await until(() => b.events.some((e) => e.type === 'closed' && e.code === CloseCode.SlowConsumer.code));
    b.connect(hub);
    await until(async () => (await b.stock(MUG)).value === 1);
  });

  it('a newer connection of the same store replaces the older one', async () => {
    const hub = await TestHub.create();
    const a = await wholeReplica('A');
    a.connect(hub);
    await until(() => a.caughtUpCount() === 1);
    const older = a.events.length;
    a.connect(hub);
    await until(() => a.caughtUpCount() === 2);
    expect(a.events.slice(older).some((e) => e.type === 'closed')).toBe(true);
    expect(hub.sync.storeLinks()).toEqual([expect.objectContaining({ storeId: 'A', connected: true })]);
  });

  it('a cut link closes the session with LinkCut and every reconnection until restored; the store sells meanwhile', async () => {
    const { hub, a, b } = await chainOfTwo();
    expect(hub.sync.cutLink('nobody' as StoreId)).toBe(false);
    expect(hub.sync.cutLink(a.id)).toBe(true);
    await until(() => a.events.some((e) => e.type === 'closed' && e.code === CloseCode.LinkCut.code));
    expect(hub.sync.storeLinks().find((l) => l.storeId === a.id)).toMatchObject({ connected: false, cut: true });

    // Offline, the store keeps selling from its own rights; the hub does not see it.
    await a.apply(MUG, receive(a.id, 3));
    await a.apply(MUG, sell(a.id, 1));
    const closedBefore = a.events.filter((e) => e.type === 'closed').length;
    expect(a.connect(hub)).toBeNull();
    await until(() => a.events.filter((e) => e.type === 'closed').length === closedBefore + 1);
    expect(a.events.at(-1)).toMatchObject({ type: 'closed', code: CloseCode.LinkCut.code });
    expect((await hub.stock(MUG)).value).toBe(0);

    expect(hub.sync.restoreLink(a.id)).toBe(true);
    a.connect(hub);
    await until(async () => (await b.stock(MUG)).value === 2);
    await until(() => {
      const link = hub.sync.storeLinks().find((l) => l.storeId === a.id);
      return link?.connected === true && !link.cut && link.pendingUpdates === 0 && link.syncLagMs === 0;
    });
  });

  it('a reconnecting store’s offline changes count as pending at the hub until they arrive', async () => {
    let now = 1_000;
    const hub = await TestHub.create({ now: () => now });
    const a = await wholeReplica('A');
    a.connect(hub);
    await until(() => a.caughtUpCount() === 1);
    a.disconnect();
    await a.apply(MUG, receive(a.id, 1));
    await a.apply(TEA, receive(a.id, 1));
    now = 61_000;
    // Offline: stale since the last frame.
    await until(() => hub.sync.storeLinks()[0]?.connected === false);
    expect(hub.sync.storeLinks()[0]).toMatchObject({ syncLagMs: 60_000, pendingUpdates: 0 });
    // The hub learns of the two SKUs from the hello; hold the store's frames after it to look in between.
    const [storeSide, hubSide] = createTransportPair();
    const held: Uint8Array[] = [];
    let helloSent = false;
    let holding = true;
    const gate: Transport = {
      send: (frame) => {
        if (helloSent && holding) held.push(frame);
        else storeSide.send(frame);
        helloSent = true;
      },
      close: (code, reason) => storeSide.close(code, reason),
      get bufferedAmount() {
        return storeSide.bufferedAmount;
      },
      onMessage: (handler) => storeSide.onMessage(handler),
      onClose: (handler) => storeSide.onClose(handler),
    };
    hub.sync.connect(a.id, hubSide);
    a.sync.attach(gate);
    await until(() => hub.sync.storeLinks()[0]?.pendingUpdates === 2);
    now = 66_000;
    expect(hub.sync.storeLinks()[0]).toMatchObject({ connected: true, syncLagMs: 5_000 });
    holding = false;
    for (const frame of held.splice(0)) storeSide.send(frame);
    await until(() => hub.sync.storeLinks()[0]?.pendingUpdates === 0);
    expect(hub.sync.storeLinks()[0]).toMatchObject({ syncLagMs: 0 });
  });
});
