import { applyOperation, computeStock, type Operation } from '@shelfsync/core';
import { capture } from '@shelfsync/core/testing';
import { onlineAccount, storeAccount, storeWriter, type Sku, type StoreId } from '@shelfsync/protocol';
import { SHARD_LEASES_TABLE } from '@shelfsync/storage-pg';
import { skipPgTests } from '@shelfsync/storage-pg/testing';
import { CommitConflict, HubEngine, type Relay } from '@shelfsync/sync';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { LeaseLost, NotShardOwner, PgHubDocuments, ShardLeases } from '../src/index.js';
import { FAST } from './lease-support.js';
import { changeLogFixture, failure, sku, until } from './support.js';

const A = 'A' as StoreId;
const SHARDS = 4;

const quietRelay: Relay = { relay: () => undefined, servesVersion1: () => false };

const receiveOnline = (quantity: number) => (): Operation => ({ type: 'receive', account: onlineAccount(A), quantity });

describe.skipIf(skipPgTests())('PgHubDocuments with shard leases: only the owner writes as the hub', () => {
  const fixture = changeLogFixture('hub_ownership');
  const closing: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });

  /** A hub node: its leases, its documents fenced by them, and an engine. */
  async function node(url: string, name: string) {
    // The documents hear of lost leases, and are opened after the leases.
    const held: { documents?: PgHubDocuments } = {};
    const lost: number[] = [];
    const leases = await ShardLeases.open(url, {
      ...FAST,
      node: name,
      shards: SHARDS,
      onError: () => undefined,
      onChange: ({ shard, owned }) => {
        if (owned) return;
        lost.push(shard);
        held.documents?.leaseLost(shard);
      },
    });
    const documents = await PgHubDocuments.open(url, { namespace: 'hub', pollIntervalMs: 100, ownership: leases });
    held.documents = documents;
    closing.push(async () => {
      await documents.close();
      await leases.close();
    });
    return { leases, documents, engine: new HubEngine(documents, quietRelay), lost };
  }

  /** A SKU of `shard`. */
  function skuIn(leases: ShardLeases, shard: number): Sku {
    for (let i = 0; ; i++) {
      const candidate = sku(`SKU-${i}`);
      if (leases.shardOf(candidate) === shard) return candidate;
    }
  }

  it('a node refuses a hub write of a shard it does not own, and the owner performs it', async () => {
    const url = await fixture.fresh();
    const one = await node(url, 'one');
    await until('the first node owns every shard', () => one.leases.ownedShards().length === SHARDS);
    const two = await node(url, 'two');
    await until('the shards are split', () => two.leases.ownedShards().length === SHARDS / 2);
    await until('the first node gave its share up', () => one.leases.ownedShards().length === SHARDS / 2);

    const shard = two.leases.ownedShards()[0] ?? -1;
    const target = skuIn(two.leases, shard);
    expect(await failure(one.engine.writeAsHub(target, 'grant', receiveOnline(3)))).toBeInstanceOf(NotShardOwner);
    const written = await two.engine.writeAsHub(target, 'grant', receiveOnline(3));
    expect(written?.ok).toBe(true);
    await until('the first node hears it', () => one.documents.cursor() === two.documents.cursor());
    expect(computeStock(await one.documents.open(target)).value).toBe(3);
  });

  it("refuses, inside its transaction, the write of an owner deposed behind its back, and drops the shard's documents", async () => {
    const url = await fixture.fresh();
    const one = await node(url, 'one');
    await until('the node owns every shard', () => one.leases.ownedShards().length === SHARDS);
    const target = skuIn(one.leases, 1);
    await one.engine.writeAsHub(target, 'grant', receiveOnline(2));
    const before = await one.documents.open(target);

    // Another node takes the shard over: the epoch moves, and this node has not renewed since.
    const database = fixture.pool(url, 1);
    await database.query(
      `UPDATE ${SHARD_LEASES_TABLE} SET node = 'elsewhere', epoch = epoch + 1 WHERE cluster = 'hub' AND shard = 1`,
    );
    expect(one.leases.owns(1)).toBe(true);
    const refused = await failure(one.engine.writeAsHub(target, 'grant', receiveOnline(5)));

    expect(refused).toBeInstanceOf(LeaseLost);
    expect(refused).toBeInstanceOf(CommitConflict);
    // Not a storage failure: the node goes on, and its copy with the refused write is gone.
    expect(one.documents.failed).toBeNull();
    const after = await one.documents.open(target);
    expect(after).not.toBe(before);
    expect(computeStock(after).value).toBe(2);
    await until('the node learns it lost the shard', () => one.lost.includes(1));
    expect(await failure(one.engine.writeAsHub(target, 'grant', receiveOnline(5)))).toBeInstanceOf(NotShardOwner);
  });

  it("keeps a store's change committed on a copy that a refused hub write dropped meanwhile", async () => {
    const url = await fixture.fresh();
    const one = await node(url, 'one');
    await until('the node owns every shard', () => one.leases.ownedShards().length === SHARDS);
    const targets: Sku[] = [];
    for (let i = 0; targets.length < 5; i++) {
      const candidate = sku(`KEEP-${i}`);
      if (one.leases.shardOf(candidate) === 1) targets.push(candidate);
    }
    for (const target of targets) await one.engine.writeAsHub(target, 'grant', receiveOnline(2));
    const database = fixture.pool(url, 1);
    await database.query(
      `UPDATE ${SHARD_LEASES_TABLE} SET node = 'elsewhere', epoch = epoch + 1 WHERE cluster = 'hub' AND shard = 1`,
    );

    const B = 'B' as StoreId;
    await Promise.all(
      targets.map(async (target, index) => {
        // The hub write is applied and its commit under way on the copy in memory...
        const refused = one.engine.writeAsHub(target, 'grant', receiveOnline(5));
        await new Promise((resolve) => setImmediate(resolve));
        // ...when a store's update is applied to the same copy, its commit queued behind.
        const replica = new Y.Doc();
        replica.clientID = 600 + index;
        const update = capture(replica, (d) => {
          const result = applyOperation(d, storeWriter(B), { type: 'receive', account: storeAccount(B), quantity: 3 });
          if (!result.ok) throw new Error(result.error.detail);
        });
        const accepted = one.engine.acceptStoreUpdate({ storeId: B }, target, update);
        // The refusal drops the copy; the next use reads it again, before the store's commit lands.
        const reread = refused.catch(() => one.documents.open(target));
        expect(await reread).toBeDefined();
        expect((await accepted).type).toBe('committed');
      }),
    );
    for (const target of targets) expect(computeStock(await one.documents.open(target)).value).toBe(5);
  });
});
