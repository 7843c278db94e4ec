import { applyOperation } from '@shelfsync/core';
import { storeAccount, storeWriter, type Sku, type StoreId } from '@shelfsync/protocol';
import type { StorageAdapter } from '@shelfsync/storage';
import { PgStorageAdapter } from '@shelfsync/storage-pg';
import { startPostgresServer } from '@shelfsync/storage-pg/testing';
import { SqlJsStorageAdapter } from '@shelfsync/storage-sqljs';
import { HubStorage } from '@shelfsync/sync';
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

/**
 * The hub's commit as a store's sale reaches it: `HubStorage.commit` (the update,
 * its change record, one atomic write) on the adapter the hub runs with, one at
 * a time and IN_FLIGHT at once over different SKUs, as sessions commit.
 */
async function measure(label: string, adapter: StorageAdapter, note: string): Promise<BenchRow[]> {
  const storage = await HubStorage.open(adapter, randomUUID);
  const skus = Array.from({ length: SKUS }, (_, i) => `C-${i}` as Sku);
  const sale = async (sku: Sku, first = false): Promise<number> => {
    const doc = await storage.open(sku);
    const update = operate(doc, first ? 'receive' : 'sell', first ? 1_000_000 : 1);
    const start = performance.now();
    await storage.commit(sku, update);
    return performance.now() - start;
  };
  for (const sku of skus) await sale(sku, true);

  const oneAtATime: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) oneAtATime.push(await sale(skus[i % SKUS] as Sku));
  oneAtATime.sort((a, b) => a - b);

  const atOnce: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, lane) => {
      // Each lane keeps to its own SKUs: one SKU's commits are one at a time at the hub too.
      for (let i = next++; i < CONCURRENT; i = next++) {
        atOnce.push(await sale(skus[(lane + IN_FLIGHT * i) % SKUS] as Sku));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  atOnce.sort((a, b) => a - b);
  await storage.close();
  await adapter.close();
  const ms = (value: number): string => `${value.toFixed(2)} ms`;
  return [
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
}

/** Commit latency of the hub's records: the embedded sql.js journal against PostgreSQL on this machine. */
export async function runCommitBench(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsync-commit-bench-'));
  const server = await startPostgresServer();
  try {
    const embedded = await measure(
      'sql.js and its journal',
      await SqlJsStorageAdapter.open({ path: join(dir, 'hub.sqlite') }),
      'one fdatasync per group of commits',
    );
    const postgres = await measure(
      'PostgreSQL',
      await PgStorageAdapter.open(server.url, { namespace: 'hub', exclusiveWriter: 'hub' }),
      'a local PostgreSQL 15 over loopback TCP, default synchronous_commit (WAL flushed per COMMIT), the writer fence checked in each transaction',
    );
    return [...embedded, ...postgres];
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
