import { ErrorCode, SkuSchema } from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import { InProcessChain } from '../src/testing/index.js';

const sku = (value: string) => SkuSchema.parse(value);

describe('store replicas and the hub, in one process', () => {
  it('a store keeps selling within its rights while the hub is down, refuses beyond, and converges after; nothing from before is lost or doubled', async () => {
    // Exact rights: the allocator stays off, so every right stays where it was received.
    const chain = await InProcessChain.open({ escrow: 'off', stores: ['north', 'south'] });
    const [MUG, TEA, LAMP] = [sku('MUG-1'), sku('TEA-1'), sku('LAMP-1')];
    const north = chain.store('north');
    const south = chain.store('south');
    // Traffic from before the outage.
    expect((await north.receive(MUG, 10)).status).toBe(201);
    expect((await north.sell(MUG, 3)).body).toMatchObject({ rights: 7, available: 7 });
    expect((await south.receive(MUG, 5)).status).toBe(201);
    expect((await south.receive(TEA, 20)).status).toBe(201);
    expect((await south.sell(TEA, 2)).status).toBe(201);
    expect((await north.receive(LAMP, 4)).status).toBe(201);
    await chain.converged([MUG, TEA, LAMP]);
    expect((await chain.hubStock(LAMP)).value).toBe(4);

    chain.stopHub();
    await chain.settle();
    expect(north.status().connected).toBe(false);
    const sold = await north.sell(LAMP, 3);
    expect(sold).toMatchObject({ status: 201, body: { rights: 1 } });
    const refused = await north.sell(LAMP, 2);
    expect(refused).toMatchObject({
      status: 409,
      body: { code: ErrorCode.InsufficientRights, details: { rights: 1, requested: 2 } },
    });
    expect((await south.receive(LAMP, 6)).status).toBe(201);

    await chain.startHub();
    await chain.converged([MUG, TEA, LAMP]);
    expect((await chain.hubStock(LAMP)).value).toBe(7);
    // Each store holds its share: the rest of the chain comes from the hub's summary once its console asks.
    await Promise.all([north.stock(LAMP), south.stock(LAMP)]);
    await chain.flushAvailability();
    expect(await north.stock(LAMP)).toMatchObject({ available: 7, rights: 1 });
    expect(await south.stock(LAMP)).toMatchObject({ available: 7, rights: 6 });
    // Nothing from before the outage was lost or doubled.
    expect((await chain.hubStock(MUG)).value).toBe(12);
    expect((await chain.hubStock(TEA)).value).toBe(18);
    chain.close();
  });

  it('with the hub unreachable, a new store refuses writes with REPLICA_NOT_READY; once synced it takes them, also offline and across a restart', async () => {
    // Exact rights: the allocator stays off.
    const chain = await InProcessChain.open({ escrow: 'off', stores: [] });
    const LAMP = sku('LAMP-1');
    chain.stopHub();
    const west = await chain.addStore({ id: 'west', firstSyncWaitMs: 300 });
    await expect(west.receive(LAMP, 5)).rejects.toMatchObject({ error: { code: ErrorCode.ReplicaNotReady } });
    expect(west.status()).toMatchObject({ ready: false, firstSyncDone: false });

    await chain.startHub();
    await chain.settle();
    expect(west.status()).toMatchObject({ ready: true, firstSyncDone: true });
    expect((await west.receive(LAMP, 5)).status).toBe(201);

    // Synced once, the replica sells from its rights with the hub gone, across a restart.
    await chain.settle();
    chain.stopHub();
    await chain.restartStore('west');
    expect(west.status()).toMatchObject({ connected: false, ready: true });
    const sale = await west.sell(LAMP, 2);
    expect(sale.status).toBe(201);
    expect(sale.body).toMatchObject({ rights: 3 });
    chain.close();
  });

  it('a store whose data is lost rebuilds from the hub and writes on top of its old entry, refused by nobody', async () => {
    const chain = await InProcessChain.open({ stores: ['east'] });
    const CHAIR = sku('CHAIR-1');
    const east = chain.store('east');
    expect((await east.receive(CHAIR, 10)).status).toBe(201);
    expect((await east.sell(CHAIR, 3)).status).toBe(201);
    await chain.settle();
    expect((await chain.hubStock(CHAIR)).value).toBe(7);

    await chain.wipeStore('east');
    // Its first write, an increment it could make on an empty document, waits for
    // the first sync and then builds on the totals the hub holds (made on an empty
    // document, the hub would refuse it: UPDATE_CONCURRENT_ENTRY).
    const receipt = await east.receive(CHAIR, 1);
    expect(receipt.status).toBe(201);
    expect(receipt.body).toMatchObject({ rights: 8, onShelf: 8 });
    const sale = await east.sell(CHAIR, 2);
    expect(sale.body).toMatchObject({ rights: 6, onShelf: 6 });
    await chain.converged([CHAIR]);
    expect((await chain.hubStock(CHAIR)).value).toBe(6);
    expect(east.status()).toMatchObject({ ready: true, firstSyncDone: true, pendingSync: 0, rejected: [] });
    expect(chain.storeLinks().find((l) => l.storeId === east.id)?.rejectedUpdates).toBe(0);
    chain.close();
  });
});
