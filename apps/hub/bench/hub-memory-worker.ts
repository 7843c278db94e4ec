/**
 * Runs in its own process (with --expose-gc): touches N SKU documents once
 * through the hub's storage on the sql.js adapter with its journal, then lets
 * them idle, and prints the process's memory at each step as one JSON line.
 */
import { applyOperation } from '@shelfsync/core';
import { SkuSchema, storeAccount, storeWriter, type StoreId } from '@shelfsync/protocol';
import { SqlJsStorageAdapter } from '@shelfsync/storage-sqljs';
import { HubStorage } from '@shelfsync/sync';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const skus = Number(process.argv[2] ?? 100_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

let offset = 0;
const now = (): number => Date.now() + offset;
const dir = mkdtempSync(join(tmpdir(), 'shelfsync-hub-memory-'));
const file = join(dir, 'hub.sqlite');

const sample = () => {
  gc();
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
  };
};

try {
  const adapter = await SqlJsStorageAdapter.open({ path: file, flushIntervalMs: 0 });
  // The hub's defaults: idle after 60 s, at most 10,000 resident, swept every second.
  const storage = await HubStorage.open(adapter, () => 'bench', now, {
    evictIdleAfterMs: 60_000,
    maxResidentDocs: 10_000,
  });
  let maxResident = 0;
  let lastSweep = performance.now();
  const baseline = sample();
  const store = 'bench' as StoreId;
  const started = performance.now();
  const BATCH = 1_000;
  for (let from = 0; from < skus; from += BATCH) {
    const touches: Promise<number>[] = [];
    for (let i = from; i < Math.min(skus, from + BATCH); i++) {
      const sku = SkuSchema.parse(`SKU-${String(i).padStart(7, '0')}`);
      touches.push(
        storage.open(sku).then((doc) => {
          let update: Uint8Array | null = null;
          doc.once('update', (u: Uint8Array) => void (update = u));
          applyOperation(doc, storeWriter(store), { type: 'receive', account: storeAccount(store), quantity: 5 });
          if (update === null) throw new Error('no update');
          return storage.commit(sku, update);
        }),
      );
    }
    await Promise.all(touches);
    maxResident = Math.max(maxResident, storage.residencyStats().resident);
    if (performance.now() - lastSweep >= 1_000) {
      storage.evictIdle();
      lastSweep = performance.now();
    }
  }
  const touchMs = performance.now() - started;
  const touched = { ...sample(), resident: storage.residencyStats().resident, maxResident };

  // Idle: the clock moves past the idle limit and the hub's periodic sweep runs.
  offset += 61_000;
  const evicted = storage.evictIdle();
  await adapter.flush();
  const idle = { ...sample(), resident: storage.residencyStats().resident };
  const dbBytes = statSync(file).size;
  await adapter.close();
  process.stdout.write(`${JSON.stringify({ skus, touchMs, baseline, touched, idle, evicted, dbBytes })}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
