import { AllocatorConfigSchema } from '@shelfsync/escrow';
import {
  ErrorCode,
  ShelfsyncFailure,
  StoreIdSchema,
  type OperationResponse,
  type Problem,
  type RefusalCause,
} from '@shelfsync/protocol';
import { MemoryStorageAdapter, StorageWriteError, type StorageWrite } from '@shelfsync/storage';
import { HubAllocator, StoreStorage, StoreSync, createTransportPair } from '@shelfsync/sync';
import { TestHub, sku } from '@shelfsync/sync/testing';
import { describe, expect, it, vi } from 'vitest';
import { PointOfSale, ReplicaHealth, posRequests, type SaleOutcome } from '../src/index.js';

const NORTH = StoreIdSchema.parse('north');
const LAMP = sku('LAMP');

/** An adapter whose writes fail from `failing` on, as a full disk would, having recorded nothing. */
class FullDisk extends MemoryStorageAdapter {
  failing = false;
  override writeBatch(writes: readonly StorageWrite[]): Promise<void> {
    if (this.failing) return Promise.reject(new StorageWriteError('ENOSPC: no space left on device', 'no'));
    return super.writeBatch(writes);
  }
}

/** A store's point of sale on in-memory storage, linked (or not) to an in-process hub with its allocator. */
async function setup(options: { overrideCap?: number; connected?: boolean } = {}) {
  const hub = await TestHub.create({ maxDeficit: 2 });
  const allocator = new HubAllocator(hub.storage, hub.engine, hub.sync, AllocatorConfigSchema.parse({}), () => 1_000);
  hub.sync.useAllocator(allocator);
  const adapter = new FullDisk();
  const storage = await StoreStorage.open(adapter);
  const failures: string[] = [];
  const health = new ReplicaHealth(storage, {
    firstSyncWaitMs: 50,
    hubUrl: 'ws://hub.test',
    onFailed: (reason) => failures.push(reason),
  });
  const outcomes: SaleOutcome[] = [];
  const causes: RefusalCause[] = [];
  let caughtUp = 0;
  const sync: StoreSync = new StoreSync(NORTH, storage, {
    onEvent: (event) => {
      if (event.type === 'caught-up') {
        caughtUp += 1;
        health.caughtUp();
      }
    },
    onRelease: (target, down, mark) => void pos.release(target, down, mark),
  });
  const pos = new PointOfSale({
    storeId: NORTH,
    storage,
    sync,
    health,
    topUpWaitMs: 2_000,
    overrideCap: options.overrideCap ?? 0,
    observer: { sale: (o) => outcomes.push(o), refused: (c) => causes.push(c) },
  });
  if (options.connected !== false) {
    const [storeSide, hubSide] = createTransportPair();
    hub.sync.connect(NORTH, hubSide);
    sync.attach(storeSide);
    await vi.waitFor(() => expect(caughtUp).toBeGreaterThanOrEqual(1), { interval: 1 });
  }
  return { hub, adapter, storage, sync, health, pos, outcomes, causes, failures, requests: posRequests(NORTH) };
}

const body = (answer: { body: OperationResponse | Problem }) => answer.body as OperationResponse;
const problem = (answer: { body: OperationResponse | Problem }) => answer.body as Problem;

describe('the point of sale', () => {
  it('sells from its own rights, and past them asks the hub for the units its location holds', async () => {
    const { hub, pos, requests, outcomes } = await setup();
    expect(body(await pos.perform(requests.receipt({ sku: LAMP, quantity: 10 })))).toMatchObject({
      operation: 'receive',
      rights: 10,
      onShelf: 10,
    });
    // The hub keeps the online floor in the escrow: the till holds 9 of the 10.
    await vi.waitFor(async () => expect((await hub.stock(LAMP)).locations[NORTH]?.onlineRights).toBe(1), {
      interval: 1,
    });
    const sold = await pos.perform(requests.sale({ sku: LAMP, quantity: 10 }));
    expect(sold.status).toBe(201);
    expect(body(sold)).toMatchObject({ operation: 'sell', quantity: 10, onShelf: 0 });
    expect(sold.topUpMs).toBeGreaterThanOrEqual(0);
    expect(outcomes).toEqual(['topped_up']);
  });

  it('cut off, refuses beyond its rights at once, says why, and keeps the refusal as an answer', async () => {
    const { pos, requests, outcomes, causes, sync } = await setup({ connected: false });
    await pos.perform(requests.receipt({ sku: LAMP, quantity: 3 }));
    const refused = await pos.perform(requests.sale({ sku: LAMP, quantity: 4 }));
    expect(refused).toMatchObject({ status: 409, recorded: false });
    expect(problem(refused)).toMatchObject({
      code: ErrorCode.InsufficientRights,
      details: { hubReachable: false, cause: 'location_empty' },
    });
    expect(outcomes).toEqual(['refused_offline']);
    expect(causes).toEqual(['location_empty']);
    expect(sync.status().connected).toBe(false);
  });

  it('under the manager override sells units in hand beyond its rights, up to its cap', async () => {
    const { pos, requests, outcomes } = await setup({ overrideCap: 2, connected: false });
    await pos.perform(requests.receipt({ sku: LAMP, quantity: 1 }));
    const sold = await pos.perform(requests.sale({ sku: LAMP, quantity: 3, override: true }));
    expect(body(sold)).toMatchObject({ operation: 'sell', overridden: 2, deficit: 2 });
    const capped = await pos.perform(requests.sale({ sku: LAMP, quantity: 1, override: true }));
    expect(problem(capped).code).toBe(ErrorCode.OverrideCapExceeded);
    expect(outcomes).toEqual(['override', 'refused_override_cap']);
  });

  it('stores the idempotency record in the same batch as the change, before it is sent', async () => {
    const { adapter, pos, requests, sync } = await setup({ connected: false });
    const record = { key: ['idem', 'k1'], data: new Uint8Array([1]) };
    await pos.perform(requests.receipt({ sku: LAMP, quantity: 2 }), { recordWrites: () => [record] });
    expect(await adapter.load(['idem', 'k1'])).toEqual(new Uint8Array([1]));
    expect(sync.status().connected).toBe(false);
  });

  it('a write the disk refuses is not answered as done, and closes the replica to every later request', async () => {
    const { adapter, pos, requests, health, failures } = await setup({ connected: false });
    await pos.perform(requests.receipt({ sku: LAMP, quantity: 2 }));
    adapter.failing = true;
    const failed = pos.perform(requests.sale({ sku: LAMP, quantity: 1 }));
    await expect(failed).rejects.toBeInstanceOf(ShelfsyncFailure);
    await expect(failed).rejects.toMatchObject({ error: { code: ErrorCode.StorageUnavailable } });
    expect(failures).toEqual(['ENOSPC: no space left on device']);
    expect(() => health.assertHealthy()).toThrow(ShelfsyncFailure);
    expect(health.ready).toBe(false);
  });

  it('a fresh replica takes no writes until its first sync is recorded', async () => {
    const { health } = await setup({ connected: false });
    await expect(health.assertReady()).rejects.toMatchObject({ error: { code: ErrorCode.ReplicaNotReady } });
    expect(health.ready).toBe(false);
  });

  it('a connected fresh replica opens for writes once caught up', async () => {
    const { health, storage } = await setup();
    await vi.waitFor(() => expect(storage.firstSyncDone).toBe(true), { interval: 1 });
    await health.assertReady();
    expect(health.ready).toBe(true);
  });

  it('a store cannot ship to itself', () => {
    expect(() => posRequests(NORTH).shipOut({ sku: LAMP, quantity: 1, toStore: NORTH })).toThrow(ShelfsyncFailure);
  });
});
