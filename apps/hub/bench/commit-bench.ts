import { applyOperation } from '@shelfsync/core';
import { storeAccount, storeWriter, type Sku, type StoreId } from '@shelfsync/protocol';
import { PgHubDocuments } from '@shelfsync/hub-pg';
import { PgStorageAdapter } from '@shelfsync/storage-pg';
import { startPostgresServer } from '@shelfsync/storage-pg/testing';
import { SqlJsStorageAdapter } from '@shelfsync/storage-sqljs';
import { HubStorage, type HubDocuments } from '@shelfsync/sync';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Y from 'yjs';

export interface BenchRow {
  readonly name: string;
  readonly value: string;
  readonly note: string;
}

const STORE = 'bench' as StoreId;
const SKUS = 100;
const SEQUENTIAL = 1_000;
const CONCURRENT = 2_000;
const IN_FLIGHT = 8;

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** One store operation on `doc`, as the hub receives it: the update it made. */
function operate(doc: Y.Doc, type: 'receive' | 'sell', quantity: number): Uint8Array {
  let update: Uint8Array | undefined;
  const collect = (u: Uint8Array): void => void (update = u);
  doc.on('update', collect);
  const result = applyOperation(doc, storeWriter(STORE), { type, account: storeAccount(STORE), quantity });
  doc.off('update', collect);
  if (!result.ok || update === undefined) throw new Error(`the bench's ${type} was refused`);
  return update;
}

/** The hub's documents as the bench drives them, on one node or several. */
type Node = Pick<HubDocuments, 'open' | 'commit' | 'cursor' | 'onCommit'>;

/**
 * The hub's commit as a store's sale reaches it (the update, its change record,
 * and on PostgreSQL the cluster's checks, in one atomic write), one at a time and
 * IN_FLIGHT at once over different SKUs, as sessions commit. With several nodes
 * the lanes take turns over them, and each commit's feed lag is the time until
 * every other node has heard it.
 */
async function measure(label: string, nodes: readonly Node[], note: string): Promise<BenchRow[]> {
  const skus = Array.from({ length: SKUS }, (_, i) => `C-${i}` as Sku);
  const heard = new Map<number, number[]>();
  for (const node of nodes)
    node.onCommit((_sku, change) =>
      (heard.get(change.seq) ?? heard.set(change.seq, []).get(change.seq))?.push(performance.now()),
    );
  const committedAt = new Map<number, number>();
  const sale = async (node: Node, sku: Sku, first = false): Promise<number> => {
    const doc = await node.open(sku);
    const update = operate(doc, first ? 'receive' : 'sell', first ? 1_000_000 : 1);
    const start = performance.now();
    const seq = await node.commit(sku, update);
    const end = performance.now();
    committedAt.set(seq, start);
    return end - start;
  };
  // Each SKU is sold through one node, as each store keeps to one node.
  const nodeOf = (index: number): Node => nodes[index % nodes.length] as Node;
  for (const [index, sku] of skus.entries()) await sale(nodeOf(index), sku, true);

  const oneAtATime: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) oneAtATime.push(await sale(nodeOf(i % SKUS), skus[i % SKUS] as Sku));
  oneAtATime.sort((a, b) => a - b);

  const atOnce: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, lane) => {
      // Each lane keeps to its own SKUs: one SKU's commits are one at a time at the hub too.
      for (let i = next++; i < CONCURRENT; i = next++) {
        const index = (lane + IN_FLIGHT * i) % SKUS;
        atOnce.push(await sale(nodeOf(index), skus[index] as Sku));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  atOnce.sort((a, b) => a - b);
  const ms = (value: number): string => `${value.toFixed(2)} ms`;
  const rows: BenchRow[] = [
    {
      name: `hub commit on ${label}, one at a time`,
      value: `p50 ${ms(percentile(oneAtATime, 50))}, p99 ${ms(percentile(oneAtATime, 99))}`,
      note: `${SEQUENTIAL.toLocaleString('en-US')} sales' updates with their change records, each durable before the next; ${note}`,
    },
    {
      name: `hub commit on ${label}, ${IN_FLIGHT} at once`,
      value: `p50 ${ms(percentile(atOnce, 50))}, p99 ${ms(percentile(atOnce, 99))}`,
      note: `${Math.round(CONCURRENT / seconds).toLocaleString('en-US')} commits/s over ${SKUS} SKUs; ${note}`,
    },
  ];
  if (nodes.length > 1) {
    const last = Math.max(...committedAt.keys());
    const deadline = Date.now() + 30_000;
    while (nodes.some((node) => node.cursor() < last) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // The last of the nodes to hear each change, after the commit started.
    const lags = [...committedAt].map(([seq, at]) => Math.max(...(heard.get(seq) ?? [Infinity])) - at);
    lags.sort((a, b) => a - b);
    rows.push({
      name: `feed lag on ${label}`,
      value: `p50 ${ms(percentile(lags, 50))}, p99 ${ms(percentile(lags, 99))}`,
      note: `from a commit's start until every node has heard it (its document updated, its stores relayed to); NOTIFY after COMMIT, each node reads the log`,
    });
  }
  return rows;
}

/** Commit latency of the hub's documents: the embedded sql.js journal against PostgreSQL, one node and three. */
export async function runCommitBench(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsync-commit-bench-'));
  const server = await startPostgresServer();
  try {
    const adapter = await SqlJsStorageAdapter.open({ path: join(dir, 'hub.sqlite') });
    const embedded = await HubStorage.open(adapter, randomUUID);
    const rows = await measure('sql.js and its journal', [embedded], 'one fdatasync per group of commits');
    await embedded.close();
    await adapter.close();

    const single = await server.createDatabase('bench_single');
    const records = await PgStorageAdapter.open(single, { namespace: 'hub', exclusiveWriter: 'hub' });
    const fence = records.fence ?? undefined;
    const one = await PgHubDocuments.open(single, { namespace: 'hub', ...(fence === undefined ? {} : { fence }) });
    const pgNote =
      'a local PostgreSQL 15 over loopback TCP, default synchronous_commit (WAL flushed per COMMIT); in each transaction the writer fence, the client-id and writer-chain checks';
    rows.push(...(await measure('PostgreSQL, one node', [one], pgNote)));
    await one.close();
    await records.close();

    const shared = await server.createDatabase('bench_cluster');
    const three = [];
    for (let i = 0; i < 3; i++) three.push(await PgHubDocuments.open(shared, { namespace: 'hub' }));
    rows.push(
      ...(await measure(
        'PostgreSQL, three nodes in one process',
        three,
        `${pgNote.replace('the writer fence, ', '')}; SKUs spread over the nodes`,
      )),
    );
    for (const node of three) await node.close();
    return rows;
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
