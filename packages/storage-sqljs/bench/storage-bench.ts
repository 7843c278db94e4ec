import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqlJsStorageAdapter } from '../src/index.js';

export interface BenchRow {
  readonly name: string;
  readonly value: string;
  readonly note: string;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Recovery of a journal holding `count` single-update batches, as a store restarting after a crash would replay. */
export async function recovery(count: number): Promise<BenchRow> {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsync-bench-'));
  try {
    const path = join(dir, 'db.sqlite');
    const writer = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
    const update = new Uint8Array(90).fill(7); // about one sale's Yjs update
    const pending: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      pending.push(writer.save(['doc', `SKU-${i % 1000}`, 'u', String(i).padStart(12, '0')], update));
      if (pending.length >= 1000) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    const journalBytes = statSync(`${path}.journal`).size;
    // No close: the next open finds the journal as a crash would leave it.
    const start = performance.now();
    const reader = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
    const ms = performance.now() - start;
    await reader.close();
    await writer.close();
    return {
      name: `recovery: replay a journal of ${fmt(count)} updates`,
      value: `${fmt(ms)} ms`,
      note: `${fmt(journalBytes / 1024)} KiB journal; includes writing the fresh snapshot`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The cost of a snapshot (`db.export()` plus the atomic file write) of a store holding `skus` SKU documents. */
export async function snapshot(skus: number): Promise<BenchRow> {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsync-bench-'));
  try {
    const path = join(dir, 'db.sqlite');
    const adapter = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0, journal: false });
    const state = new Uint8Array(300).fill(3); // a compacted SKU document of a few stores
    for (let i = 0; i < skus; i += 1000) {
      await adapter.writeBatch(
        Array.from({ length: Math.min(1000, skus - i) }, (_, j) => ({
          key: ['doc', `SKU-${i + j}`, 'snapshot'],
          data: state,
        })),
      );
    }
    const start = performance.now();
    await adapter.flush();
    const ms = performance.now() - start;
    const bytes = statSync(path).size;
    await adapter.close();
    return {
      name: `snapshot of ${fmt(skus)} SKU documents (db.export + atomic write)`,
      value: `${fmt(ms)} ms`,
      note: `${fmt(bytes / 1024 / 1024)} MiB file; runs every 30 s off the request path, blocking the event loop for this long`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runStorageAdapterBench(): Promise<BenchRow[]> {
  return [await recovery(100_000), await snapshot(10_000), await snapshot(100_000)];
}
