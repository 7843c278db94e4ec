import { computeStock, reservableRights } from '@shelfsync/core';
import { onlineAccount, type Reservation, type StoreId } from '@shelfsync/protocol';
import { RecordStore } from '@shelfsync/storage';
import { PgStorageAdapter } from '@shelfsync/storage-pg';
import { skipPgTests } from '@shelfsync/storage-pg/testing';
import { HubEngine, Reservations, type Relay } from '@shelfsync/sync';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { PgHubDocuments, ShardLeases } from '../src/index.js';
import { FAST } from './lease-support.js';
import { changeLogFixture, sku, until } from './support.js';

const A = 'A' as StoreId;
const quietRelay: Relay = { relay: () => undefined, servesVersion1: () => false };

/**
 * A reservation's close is stored only while its record still says held,
 * checked in the commit's transaction: a close whose commit landed though its
 * answer was lost (so the node held the reservation again) is never made twice.
 */
describe.skipIf(skipPgTests())('reservations on PostgreSQL: a close is guarded by its record', () => {
  const fixture = changeLogFixture('reservation_guards');
  const closing: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });

  it('refuses a second close of a reservation whose first close landed, and answers from the record', async () => {
    const url = await fixture.fresh();
    const leases = await ShardLeases.open(url, { ...FAST, node: 'n1', shards: 4, onError: () => undefined });
    const documents = await PgHubDocuments.open(url, { namespace: 'hub', node: 'n1', ownership: leases });
    const adapter = await PgStorageAdapter.open(url, { namespace: 'hub' });
    closing.push(async () => {
      await documents.close();
      await adapter.close();
      await leases.close();
    });
    await until('the node holds every shard', () => leases.ownedShards().length === 4);
    const engine = new HubEngine(documents, quietRelay);
    const target = sku('LAMP-1');
    const reservations = await Reservations.open(
      adapter,
      engine,
      {
        releaseForOrder: () => Promise.resolve(null),
        ordered: () => Promise.resolve(),
        settleDeficit: () => Promise.resolve(false),
        document: (s) => documents.open(s),
      },
      {
        ttlMs: 600_000,
        now: Date.now,
        newId: () => `r_${randomBytes(16).toString('base64url').slice(0, 22)}`,
        owns: () => true,
      },
    );
    closing.unshift(() => Promise.resolve(reservations.stop()));
    await engine.writeAsHub(target, 'reservation', () => ({
      type: 'receive',
      account: onlineAccount(A),
      quantity: 10,
    }));
    const first = await reservations.reserve({ sku: target, quantity: 2 });
    const second = await reservations.reserve({ sku: target, quantity: 2 });
    if (!first.ok || !second.ok) throw new Error('the reservations were refused');

    // The first close landed, its answer lost: the units went back and the record says cancelled,
    // while this node still holds the reservation as it would after restoring it.
    const records = new RecordStore(adapter);
    const landed: Reservation = first.value;
    await engine.writeAsHub(
      target,
      'release',
      () => ({ type: 'cancelReservation', account: onlineAccount(A), quantity: 2 }),
      () => [
        records.putWrite(['reservation', landed.id], {
          id: landed.id,
          sku: target,
          location: 'A',
          account: onlineAccount(A),
          quantity: 2,
          state: 'cancelled',
          createdAt: Date.parse(landed.createdAt),
          expiresAt: Date.parse(landed.expiresAt),
          closedAt: Date.now(),
        }),
      ],
    );
    const rights = async (): Promise<number> => reservableRights(await documents.open(target), onlineAccount(A));
    expect(await rights()).toBe(8);

    const again = await reservations.cancel(landed.id);
    expect(again).toMatchObject({ ok: true, value: { id: landed.id, state: 'cancelled' } });
    // The units went back once: the second reservation's two stay reserved.
    expect(await rights()).toBe(8);
    expect(computeStock(await documents.open(target)).locations.A?.outstandingReservations).toBe(2);
    expect(reservations.heldCount).toBe(1);
  });
});
