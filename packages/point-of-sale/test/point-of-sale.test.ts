import {
  ErrorCode,
  ShelfsyncFailure,
  SkuSchema,
  StoreIdSchema,
  type OperationResponse,
  type Problem,
} from '@shelfsync/protocol';
import { MemoryStorageAdapter, StorageWriteError, type StorageWrite } from '@shelfsync/storage';
import { describe, expect, it, vi } from 'vitest';
import { posRequests } from '../src/index.js';
import { InProcessChain } from '../src/testing/index.js';

const NORTH = StoreIdSchema.parse('north');
const LAMP = SkuSchema.parse('LAMP');

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
  const chain = await InProcessChain.open({ maxDeficit: 2, stores: [] });
  const adapter = new FullDisk();
  const store = await chain.addStore(
    { id: NORTH, adapter, firstSyncWaitMs: 50, topUpWaitMs: 2_000, overrideCap: options.overrideCap ?? 0 },
    options.connected !== false,
  );
  const { storage, sync, health, pos, requests, record } = store;
  return {
    chain,
    adapter,
    storage,
    sync,
    health,
    pos,
    requests,
    outcomes: record.outcomes,
    causes: record.refusals,
    failures: record.failures,
  };
}

const body = (answer: { body: OperationResponse | Problem }) => answer.body as OperationResponse;
const problem = (answer: { body: OperationResponse | Problem }) => answer.body as Problem;

describe('the point of sale', () => {
  it('sells from its own rights, and past them asks the hub for the units its location holds', async () => {
    const { chain, pos, requests, outcomes } = await setup();
    expect(body(await pos.perform(requests.receipt({ sku: LAMP, quantity: 10 })))).toMatchObject({
      operation: 'receive',
      rights: 10,
      onShelf: 10,
    });
    // The hub keeps the online floor in the escrow: the till holds 9 of the 10.
    await chain.settle();
    expect((await chain.location(LAMP, NORTH))?.onlineRights).toBe(1);
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
