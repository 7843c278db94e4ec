import { computeStock, type Operation } from '@shelfsync/core';
import { onlineAccount, type Sku, type StoreId } from '@shelfsync/protocol';
import { skipPgTests } from '@shelfsync/storage-pg/testing';
import { HubEngine, type Relay } from '@shelfsync/sync';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { OwnerRequests, PgHubDocuments, ShardLeases } from '../src/index.js';
import { FAST } from './lease-support.js';
import { changeLogFixture, sku, until } from './support.js';

const A = 'A' as StoreId;
const SHARDS = 6;
const quietRelay: Relay = { relay: () => undefined, servesVersion1: () => false };

const online = (type: 'receive' | 'reserve', quantity: number) => (): Operation => ({
  type,
  account: onlineAccount(A),
  quantity,
});

/**
 * Three hub nodes composed as the cluster composes them: documents fenced by
 * shard leases, and the hub writes of a SKU asked of whichever node owns it
 * through owner requests. Whatever node a request lands on, the owner decides,
 * on the last document, one write at a time.
 */
describe.skipIf(skipPgTests())('three hub nodes: reservations reach the owner of the SKU', () => {
  const fixture = changeLogFixture('cluster_reservations');
  const closing: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });

  async function node(url: string, name: string) {
    const held: { documents?: PgHubDocuments; requests?: OwnerRequests } = {};
    const leases = await ShardLeases.open(url, {
      ...FAST,
      node: name,
      shards: SHARDS,
      onError: () => undefined,
      onChange: ({ shard, owned }) => {
        if (owned) held.requests?.shardGained(shard);
        else held.documents?.leaseLost(shard);
      },
    });
    const documents = await PgHubDocuments.open(url, { namespace: 'hub', node: name, ownership: leases });
    held.documents = documents;
    const engine = new HubEngine(documents, quietRelay);
    const requests = await OwnerRequests.open(url, {
      node: name,
      owns: (shard) => leases.owns(shard),
      pollIntervalMs: 200,
      onError: () => undefined,
    });
    held.requests = requests;
    // Each kind is the hub write of one SKU, made by the owner on its document.
    for (const type of ['receive', 'reserve'] as const) {
      requests.serve(type, async ({ body }) => {
        const { target, quantity } = body as { target: Sku; quantity: number };
        const result = await engine.writeAsHub(target, 'reservation', online(type, quantity));
        return result?.ok === true;
      });
    }
    for (const shard of leases.ownedShards()) requests.shardGained(shard);
    closing.push(async () => {
      await requests.close();
      await documents.close();
      await leases.close();
    });
    return { name, leases, documents, requests };
  }

  it('holds at most 10 of 90 concurrent reservations for 10 units, asked of three nodes', async () => {
    const url = await fixture.fresh();
    const nodes = [await node(url, 'n1'), await node(url, 'n2'), await node(url, 'n3')];
    await until('every node holds shards', () => nodes.every((n) => n.leases.ownedShards().length === SHARDS / 3));
    const target = sku('MUG-1');
    const shard = nodes[0]?.leases.shardOf(target) ?? -1;
    const ask = (index: number, id: string, type: string, quantity: number): Promise<unknown> => {
      const at = nodes[index % nodes.length];
      if (at === undefined) throw new Error('no node');
      return at.requests.ask({ id, shard, kind: type, body: { target, quantity } }, 30_000);
    };
    expect(await ask(0, 'stock-in', 'receive', 10)).toBe(true);

    const answers = await Promise.all(Array.from({ length: 90 }, (_, i) => ask(i, `order-${i}`, 'reserve', 1)));

    expect(answers.filter((held) => held === true)).toHaveLength(10);
    expect(answers.filter((held) => held === false)).toHaveLength(80);
    // A retry of an order, on another node, gets the first answer and holds nothing more.
    const first = answers.findIndex((held) => held === true);
    expect(await ask(first + 1, `order-${first}`, 'reserve', 1)).toBe(true);
    const head = Math.max(...nodes.map((n) => n.documents.cursor()));
    await until('every node has every change', () => nodes.every((n) => n.documents.cursor() === head));
    const states = await Promise.all(nodes.map(async (n) => Y.encodeStateVector(await n.documents.open(target))));
    for (const state of states) expect(state).toEqual(states[0]);
    for (const n of nodes) {
      const stock = computeStock(await n.documents.open(target));
      expect(stock.value).toBe(0);
      expect(stock.committed).toBe(10);
    }
  });
});
