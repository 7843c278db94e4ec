import { applyOperation, computeStock, rightsOf, type Operation } from '@shelfsync/core';
import { capture, copyOf } from '@shelfsync/core/testing';
import { ErrorCode, onlineAccount, storeAccount, storeWriter, type Sku, type StoreId } from '@shelfsync/protocol';
import { MemoryStorageAdapter } from '@shelfsync/storage';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  HubEngine,
  HubStorage,
  type HubWriteLane,
  type HubWriteRecord,
  type Relay,
  type StoreConnection,
  type StoreUpdateOutcome,
} from '../src/index.js';
import { sku } from '../src/testing/index.js';
import { GatedAdapter } from './support/gated-adapter.js';

const MUG = sku('MUG-1');
const TEA = sku('TEA-1');
const A = 'A' as StoreId;

/** Three connections, and a relay that delivers to each but the one excepted, logging what it did. */
class RecordingRelay implements Relay {
  readonly a: StoreConnection = { storeId: A };
  readonly b: StoreConnection = { storeId: 'B' as StoreId };
  /** A later connection of store A (it reconnected): not the one an update came from. */
  readonly a2: StoreConnection = { storeId: A };
  readonly delivered = new Map<StoreConnection, { sku: Sku; change: number }[]>();

  constructor(private readonly log: string[]) {}

  servesVersion1(): boolean {
    return false;
  }

  relay(target: Sku, _update: Uint8Array, change: number, _doc: Y.Doc, except?: StoreConnection): void {
    const to = [this.a, this.b, this.a2].filter((c) => c !== except);
    for (const connection of to) {
      const list = this.delivered.get(connection) ?? [];
      list.push({ sku: target, change });
      this.delivered.set(connection, list);
    }
    this.log.push(`relay ${change} to ${to.length}`);
  }

  to(connection: StoreConnection): number[] {
    return (this.delivered.get(connection) ?? []).map((d) => d.change);
  }
}

/** A hub's storage and engine over `adapter`, with everything they did in `log`. */
async function engineOn<T extends MemoryStorageAdapter>(adapter: T) {
  const log: string[] = [];
  const storage = await HubStorage.open(adapter, () => 'epoch-1');
  storage.onCommit((_sku, change) => log.push(`durable ${change.seq}`));
  const relay = new RecordingRelay(log);
  const writes: HubWriteRecord[] = [];
  const engine = new HubEngine(storage, relay, { onHubWrite: (write) => writes.push(write) });
  engine.onStoreUpdate((storeId, target) => log.push(`heard ${storeId} ${target}`));
  return { adapter, storage, engine, relay, log, writes };
}

/** A store's replica writing under its own Yjs client id. */
function replica(client: number): Y.Doc {
  const doc = new Y.Doc();
  doc.clientID = client;
  return doc;
}

/** The update `operation` makes on `doc`, written as `storeId`. */
function storeUpdate(doc: Y.Doc, storeId: StoreId, operation: Operation): Uint8Array {
  return capture(doc, (d) => {
    const result = applyOperation(d, storeWriter(storeId), operation);
    if (!result.ok) throw new Error(result.error.detail);
  });
}

const receive = (storeId: StoreId, quantity: number): Operation => ({
  type: 'receive',
  account: storeAccount(storeId),
  quantity,
});

describe('HubEngine.acceptStoreUpdate', () => {
  it('commits a store update, acknowledges it once durable, relays it to every other connection, then tells listeners', async () => {
    const { adapter, storage, engine, relay, log } = await engineOn(new MemoryStorageAdapter());
    const update = storeUpdate(replica(101), A, receive(A, 10));

    const outcome = await engine.acceptStoreUpdate(relay.a, MUG, update, (change) => log.push(`ack ${change}`));

    expect(outcome).toEqual({ type: 'committed', change: 1 });
    expect(log).toEqual(['durable 1', 'ack 1', 'relay 1 to 2', `heard ${A} ${MUG}`]);
    // Not back to the connection it came from; to another of the same store (it learns the change number).
    expect(relay.to(relay.a)).toEqual([]);
    expect(relay.to(relay.b)).toEqual([1]);
    expect(relay.to(relay.a2)).toEqual([1]);
    expect(computeStock(await storage.open(MUG)).value).toBe(10);
    expect(storage.clientOwner(101)).toBe(`store:${A}`);
    // On disk: a hub reopened from the same adapter holds it.
    const reopened = await HubStorage.open(adapter, () => 'other');
    expect(computeStock(await reopened.open(MUG)).value).toBe(10);
  });

  it('an update the hub already holds is acknowledged as held: nothing committed, relayed or heard', async () => {
    const { storage, engine, relay, log } = await engineOn(new MemoryStorageAdapter());
    const update = storeUpdate(replica(101), A, receive(A, 10));
    await engine.acceptStoreUpdate(relay.a, MUG, update);
    log.length = 0;

    expect(await engine.acceptStoreUpdate(relay.a, MUG, update, () => log.push('ack'))).toEqual({ type: 'held' });
    expect(log).toEqual([]);
    expect(storage.cursor()).toBe(1);
  });

  it('refuses an invalid update with nothing of it applied, reserved, committed, relayed or heard', async () => {
    const { storage, engine, relay, log } = await engineOn(new MemoryStorageAdapter());
    await engine.acceptStoreUpdate(relay.a, MUG, storeUpdate(replica(101), A, receive(A, 10)));
    log.length = 0;
    const before = Y.encodeStateAsUpdate(await storage.open(MUG));

    // Store B's entry, sent on A's connection under a new client id.
    const foreign = storeUpdate(replica(202), 'B' as StoreId, receive('B' as StoreId, 5));
    // A's own entry, written in turn under two client ids it never used: an honest store brings at most one new id.
    const first = copyOf(await storage.open(MUG), 303);
    const earlier = storeUpdate(first, A, receive(A, 1));
    const twoIds = Y.mergeUpdates([earlier, storeUpdate(copyOf(first, 304), A, receive(A, 2))]);
    const verdicts: StoreUpdateOutcome[] = [];
    for (const payload of [foreign, twoIds]) {
      verdicts.push(await engine.acceptStoreUpdate(relay.a, MUG, payload, () => log.push('ack')));
    }

    expect(verdicts).toEqual([
      expect.objectContaining({ type: 'refused', code: ErrorCode.UpdateForeignEntry }),
      expect.objectContaining({ type: 'refused', code: ErrorCode.UpdateClientIdTaken }),
    ]);
    expect(Y.encodeStateAsUpdate(await storage.open(MUG))).toEqual(before);
    for (const client of [202, 303, 304]) expect(storage.clientOwner(client)).toBeUndefined();
    expect(storage.cursor()).toBe(1);
    expect(log).toEqual([]);
  });

  it('a failed commit rejects: nothing acknowledged, relayed or heard, and the storage reports the failure', async () => {
    const { adapter, storage, engine, relay, log } = await engineOn(new GatedAdapter());
    adapter.fail();
    const update = storeUpdate(replica(101), A, receive(A, 10));

    await expect(engine.acceptStoreUpdate(relay.a, MUG, update, () => log.push('ack'))).rejects.toThrow(/ENOSPC/);

    expect(log).toEqual([]);
    expect(storage.failed).not.toBeNull();
    // The document in memory is ahead of the disk: no durable read leaves it any more.
    await expect(storage.readDurable(MUG, () => 'read')).rejects.toThrow(/ENOSPC/);
  });
});

describe('HubEngine.writeAsHub', () => {
  /** Store A received 10 MUG and put 6 of its rights in its online escrow, accepted at the hub. */
  async function withEscrow<T extends MemoryStorageAdapter>(adapter: T) {
    const setup = await engineOn(adapter);
    const doc = replica(101);
    const updates = [
      storeUpdate(doc, A, receive(A, 10)),
      storeUpdate(doc, A, { type: 'transferRights', from: storeAccount(A), to: onlineAccount(A), quantity: 6 }),
    ];
    for (const update of updates) await setup.engine.acceptStoreUpdate(setup.relay.a, MUG, update);
    setup.log.length = 0;
    return setup;
  }

  it("runs one SKU's writes one at a time in call order, whatever their lanes, each deciding on the last", async () => {
    const { adapter, storage, engine, relay, log, writes } = await withEscrow(new GatedAdapter());
    const escrow = (doc: Y.Doc): number => rightsOf(doc, onlineAccount(A));
    const decided: string[] = [];
    const write = (lane: HubWriteLane, operation: Operation | null) =>
      engine.writeAsHub(MUG, lane, (doc) => {
        decided.push(`${lane} sees ${escrow(doc)}`);
        return operation;
      });
    const grant = (quantity: number): Operation => ({
      type: 'transferRights',
      from: onlineAccount(A),
      to: storeAccount(A),
      quantity,
    });

    adapter.hold();
    const done = [
      write('reservation', { type: 'reserve', account: onlineAccount(A), quantity: 1 }),
      write('grant', grant(2)),
      write('settlement', null),
      write('topup', grant(1)),
    ];
    await adapter.waiting;
    // The first is at the disk; the others have not decided yet. Another SKU's write is not held behind them.
    const other = engine.writeAsHub(TEA, 'grant', () => {
      decided.push('TEA');
      return null;
    });
    await other;
    expect(decided).toEqual(['reservation sees 6', 'TEA']);
    adapter.letThrough();
    const results = await Promise.all(done);

    expect(decided).toEqual(['reservation sees 6', 'TEA', 'grant sees 5', 'settlement sees 3', 'topup sees 3']);
    expect(results.map((r) => (r === null ? null : r.ok))).toEqual([true, true, null, true]);
    expect(escrow(await storage.open(MUG))).toBe(2);
    // Durable before relayed, to every connection (none is excepted), in order.
    expect(log).toEqual(['durable 3', 'relay 3 to 3', 'durable 4', 'relay 4 to 3', 'durable 5', 'relay 5 to 3']);
    expect(relay.to(relay.a)).toEqual([3, 4, 5]);
    expect(writes.map((w) => [w.sku, w.lane, w.outcome, w.change])).toEqual([
      // TEA's write was done while MUG's first still waited at the disk.
      [TEA, 'grant', 'unchanged', null],
      [MUG, 'reservation', 'written', 3],
      [MUG, 'grant', 'written', 4],
      [MUG, 'settlement', 'unchanged', null],
      [MUG, 'topup', 'written', 5],
    ]);
  });

  it('an operation the document refuses writes nothing', async () => {
    const { storage, engine, log, writes } = await withEscrow(new MemoryStorageAdapter());
    const result = await engine.writeAsHub(MUG, 'reservation', () => ({
      type: 'reserve',
      account: onlineAccount(A),
      quantity: 7,
    }));
    expect(result).toMatchObject({ ok: false });
    expect(storage.cursor()).toBe(2);
    expect(log).toEqual([]);
    expect(writes.map((w) => w.outcome)).toEqual(['unchanged']);
  });

  it('a failed commit rejects the write and relays nothing, then or after: the storage has failed for good', async () => {
    const { adapter, storage, engine, log, writes } = await withEscrow(new GatedAdapter());
    adapter.fail();
    const reserve = (): Promise<unknown> =>
      engine.writeAsHub(MUG, 'reservation', () => ({ type: 'reserve', account: onlineAccount(A), quantity: 1 }));

    await expect(reserve()).rejects.toThrow(/ENOSPC/);
    expect(log).toEqual([]);
    expect(storage.failed).not.toBeNull();
    await expect(storage.readDurable(MUG, () => 'read')).rejects.toThrow(/ENOSPC/);
    await expect(reserve()).rejects.toThrow(/ENOSPC/);
    expect(writes.map((w) => [w.lane, w.outcome])).toEqual([
      ['reservation', 'failed'],
      ['reservation', 'failed'],
    ]);
  });

  it('when the extra writes cannot be made, the change is stored and relayed anyway (memory never ahead of disk, no store behind it) and the error is the caller’s', async () => {
    const { adapter, storage, engine, log, writes } = await withEscrow(new MemoryStorageAdapter());
    const result = engine.writeAsHub(
      MUG,
      'reservation',
      () => ({ type: 'reserve', account: onlineAccount(A), quantity: 1 }),
      () => {
        throw new Error('no record for it');
      },
    );

    await expect(result).rejects.toThrow('no record for it');
    expect(storage.failed).toBeNull();
    expect(log).toEqual(['durable 3', 'relay 3 to 3']);
    const reopened = await HubStorage.open(adapter, () => 'other');
    expect(computeStock(await reopened.open(MUG)).accounts[onlineAccount(A)]?.reserved).toBe(1);
    expect(writes.map((w) => [w.lane, w.outcome])).toEqual([['reservation', 'failed']]);
  });
});
