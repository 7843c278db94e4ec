import { applyOperation, computeStock, type Operation } from '@shelfsync/core';
import { capture } from '@shelfsync/core/testing';
import { onlineAccount, storeAccount, storeWriter, type Sku, type StoreId } from '@shelfsync/protocol';
import { skipPgTests } from '@shelfsync/storage-pg/testing';
import { CommitConflict, HubEngine, type Relay, type StoreConnection } from '@shelfsync/sync';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { PgHubDocuments, type PgHubDocumentsOptions } from '../src/index.js';
import { changeLogFixture, sku, until } from './support.js';

const MUG = sku('MUG-1');
const A = 'A' as StoreId;
const B = 'B' as StoreId;

/** What a node relayed: its own commits (from the engine) and the others' (from the feed). */
class Relayed implements Relay {
  readonly changes: { sku: Sku; change: number; foreign: boolean }[] = [];
  servesVersion1(): boolean {
    return false;
  }
  relay(target: Sku, _update: Uint8Array, change: number): void {
    this.changes.push({ sku: target, change, foreign: false });
  }
}

/** A store's replica writing under its own Yjs client id. */
function replica(client: number): Y.Doc {
  const doc = new Y.Doc();
  doc.clientID = client;
  return doc;
}

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

const stateOf = async (documents: PgHubDocuments, target: Sku): Promise<Uint8Array> =>
  Y.encodeStateVector(await documents.open(target));

describe.skipIf(skipPgTests())('PgHubDocuments: the hub documents of a cluster', () => {
  const fixture = changeLogFixture('hub_documents');
  const nodes: PgHubDocuments[] = [];
  afterEach(async () => {
    for (const node of nodes.splice(0)) await node.close();
  });

  /** A hub node on `url`: its documents, an engine over them, and what it relayed. */
  async function node(url: string, options: Partial<PgHubDocumentsOptions> = {}) {
    const documents = await PgHubDocuments.open(url, { namespace: 'hub', pollIntervalMs: 100, ...options });
    nodes.push(documents);
    const relay = new Relayed();
    documents.onForeignChange((target, _update, change) => relay.changes.push({ sku: target, change, foreign: true }));
    const engine = new HubEngine(documents, relay);
    const connection = (storeId: StoreId): StoreConnection => ({ storeId });
    return { documents, engine, relay, connection };
  }

  it('shares one identity, and a store update committed on one node reaches the others in order', async () => {
    const url = await fixture.fresh();
    const one = await node(url);
    const two = await node(url);
    expect(two.documents.identity).toEqual(one.documents.identity);
    expect(two.documents.epoch).toBe(one.documents.epoch);

    const store = replica(101);
    const outcome = await one.engine.acceptStoreUpdate(one.connection(A), MUG, storeUpdate(store, A, receive(A, 10)));
    expect(outcome).toEqual({ type: 'committed', change: 1 });
    await one.engine.acceptStoreUpdate(one.connection(A), MUG, storeUpdate(store, A, receive(A, 5)));

    await until('the second node hears both changes', () => two.documents.cursor() === 2);
    expect(computeStock(await two.documents.open(MUG)).value).toBe(15);
    expect(two.documents.clientOwner(101)).toBe(`store:${A}`);
    await until('the second node relays them', () => two.relay.changes.length === 2);
    expect(two.relay.changes).toEqual([
      { sku: MUG, change: 1, foreign: true },
      { sku: MUG, change: 2, foreign: true },
    ]);
    // The committing node relays its own, through the engine, never again from the feed.
    expect(one.relay.changes.map((c) => c.foreign)).toEqual([false, false]);
  });

  it('a node that opens later reads every document from the log, and one in memory follows the others', async () => {
    const url = await fixture.fresh();
    const one = await node(url);
    const two = await node(url);
    // Loaded on the second node before anything is written: it must follow.
    expect(computeStock(await two.documents.open(MUG)).value).toBe(0);
    const store = replica(101);
    for (let i = 1; i <= 20; i++) {
      await one.engine.acceptStoreUpdate(one.connection(A), MUG, storeUpdate(store, A, receive(A, 1)));
    }
    await until('the second node follows', () => two.documents.cursor() === 20);
    expect(computeStock(await two.documents.open(MUG)).value).toBe(20);
    const three = await node(url);
    expect(computeStock(await three.documents.open(MUG)).value).toBe(20);
    expect(await stateOf(three.documents, MUG)).toEqual(await stateOf(one.documents, MUG));
  });

  it('gives a client id to one writer only, when two nodes judge it free at once', async () => {
    const url = await fixture.fresh();
    const one = await node(url);
    const two = await node(url);
    // Stores A and B each claim client id 777, on different nodes, before either node hears the other.
    const fromA = storeUpdate(replica(777), A, receive(A, 3));
    const fromB = storeUpdate(replica(777), B, receive(B, 4));
    const outcomes = await Promise.allSettled([
      one.engine.acceptStoreUpdate(one.connection(A), MUG, fromA),
      two.engine.acceptStoreUpdate(two.connection(B), MUG, fromB),
    ]);

    const committed = outcomes.filter((o) => o.status === 'fulfilled' && o.value.type === 'committed');
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(committed).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason).toBeInstanceOf(CommitConflict);
    await until('both nodes hear the winner', () => one.documents.cursor() === 1 && two.documents.cursor() === 1);
    const winner = one.documents.clientOwner(777);
    expect(winner === `store:${A}` || winner === `store:${B}`).toBe(true);
    expect(two.documents.clientOwner(777)).toBe(winner);
    // The losing node read its copy again: both hold the same document.
    expect(await stateOf(two.documents, MUG)).toEqual(await stateOf(one.documents, MUG));
    expect(computeStock(await one.documents.open(MUG)).value).toBe(winner === `store:${A}` ? 3 : 4);
    expect(computeStock(await two.documents.open(MUG)).value).toBe(winner === `store:${A}` ? 3 : 4);
  });

  it('gives a client id to one writer only across documents, where no chain check could tell', async () => {
    const url = await fixture.fresh();
    const one = await node(url);
    const two = await node(url);
    const TEA = sku('TEA-1');
    // Stores A and B claim client id 888 in two different SKUs at once: each chain is new in its document.
    const outcomes = await Promise.allSettled([
      one.engine.acceptStoreUpdate(one.connection(A), MUG, storeUpdate(replica(888), A, receive(A, 3))),
      two.engine.acceptStoreUpdate(two.connection(B), TEA, storeUpdate(replica(888), B, receive(B, 4))),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled' && o.value.type === 'committed')).toHaveLength(1);
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason).toBeInstanceOf(CommitConflict);
    await until('both nodes hear the winner', () => one.documents.cursor() === 1 && two.documents.cursor() === 1);
    expect(two.documents.clientOwner(888)).toBe(one.documents.clientOwner(888));
    expect(one.documents.clientOwner(888)).toBeDefined();
  });

  it('commits one chain per hub key: of two nodes writing as the hub at once, one is refused and reads again', async () => {
    const url = await fixture.fresh();
    const one = await node(url);
    const two = await node(url);
    await one.engine.acceptStoreUpdate(one.connection(A), MUG, storeUpdate(replica(101), A, receive(A, 10)));
    await until('the second node hears it', () => two.documents.cursor() === 1);

    const receiveOnline = (quantity: number) => (): Operation => ({
      type: 'receive',
      account: onlineAccount(A),
      quantity,
    });
    const outcomes = await Promise.allSettled([
      one.engine.writeAsHub(MUG, 'grant', receiveOnline(2)),
      two.engine.writeAsHub(MUG, 'grant', receiveOnline(5)),
    ]);
    const written = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(written).toHaveLength(1);
    expect(refused[0]?.reason).toBeInstanceOf(CommitConflict);
    await until('both nodes hear the winner', () => one.documents.cursor() === 2 && two.documents.cursor() === 2);
    expect(await stateOf(two.documents, MUG)).toEqual(await stateOf(one.documents, MUG));
    const stock = computeStock(await one.documents.open(MUG)).value;
    expect([12, 15]).toContain(stock);

    // The refused node writes again on the document it read again: both land.
    const again = refused[0] === outcomes[0] ? one : two;
    await again.engine.writeAsHub(MUG, 'grant', receiveOnline(1));
    await until('both hear the retry', () => one.documents.cursor() === 3 && two.documents.cursor() === 3);
    expect(computeStock(await two.documents.open(MUG)).value).toBe(stock + 1);
    expect(await stateOf(two.documents, MUG)).toEqual(await stateOf(one.documents, MUG));
  });

  it('converges: three nodes taking concurrent updates of many stores hold the same documents', async () => {
    const url = await fixture.fresh();
    const cluster = [await node(url), await node(url), await node(url)];
    const stores = Array.from({ length: 6 }, (_, i) => ({ id: `S${i}` as StoreId, doc: replica(1_000 + i) }));
    const skus = [sku('SKU-1'), sku('SKU-2'), sku('SKU-3')];
    // Each store's replica of each SKU, and the node it is connected to.
    const replicas = new Map<string, Y.Doc>();
    const sends: Promise<unknown>[] = [];
    for (let round = 0; round < 5; round++) {
      for (const [index, store] of stores.entries()) {
        for (const target of skus) {
          const key = `${store.id}/${target}`;
          const doc = replicas.get(key) ?? replica(1_000 + index);
          replicas.set(key, doc);
          const at = cluster[index % 3];
          if (at === undefined) throw new Error('no node');
          sends.push(
            at.engine.acceptStoreUpdate(
              at.connection(store.id),
              target,
              storeUpdate(doc, store.id, receive(store.id, 1)),
            ),
          );
        }
      }
    }
    const outcomes = await Promise.allSettled(sends);
    // Each store writes through one node, in order: nothing conflicts.
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    await until('every node hears every change', () => cluster.every((n) => n.documents.cursor() === sends.length));
    for (const target of skus) {
      const [first, ...rest] = await Promise.all(cluster.map((n) => stateOf(n.documents, target)));
      for (const other of rest) expect(other).toEqual(first);
      for (const n of cluster) expect(computeStock(await n.documents.open(target)).value).toBe(30);
    }
  });

  it('compacts a busy document into a snapshot that later loads start from', async () => {
    const url = await fixture.fresh();
    const one = await node(url, { compactEvery: 5 });
    const store = replica(101);
    for (let i = 1; i <= 12; i++) {
      await one.engine.acceptStoreUpdate(one.connection(A), MUG, storeUpdate(store, A, receive(A, 1)));
    }
    const database = fixture.pool(url, 1);
    const snapshotUpto = async (): Promise<number> => {
      const { rows } = await database.query<{ upto: string }>('SELECT upto FROM doc_snapshots WHERE sku = $1', [MUG]);
      return Number(rows[0]?.upto ?? 0);
    };
    await until('a snapshot is written', async () => (await snapshotUpto()) >= 10);
    // A snapshot holds no more than the log: a node reading from it holds what the writer holds.
    const two = await node(url);
    expect(computeStock(await two.documents.open(MUG)).value).toBe(12);
    expect(await stateOf(two.documents, MUG)).toEqual(await stateOf(one.documents, MUG));
  });
});
