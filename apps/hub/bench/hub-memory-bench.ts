import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export interface BenchRow {
  readonly name: string;
  readonly value: string;
  readonly note: string;
}

const Memory = z.object({
  rss: z.number(),
  heapUsed: z.number(),
  heapTotal: z.number(),
  external: z.number(),
  arrayBuffers: z.number(),
});
const Report = z.object({
  skus: z.number(),
  touchMs: z.number(),
  baseline: Memory,
  touched: Memory.extend({ resident: z.number(), maxResident: z.number() }),
  idle: Memory.extend({ resident: z.number() }),
  evicted: z.number(),
  dbBytes: z.number(),
});

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

/** Hub memory with N SKU documents touched once, then idle; each size in a fresh process. */
export function runHubMemoryBench(sizes: readonly number[] = [10_000, 100_000]): BenchRow[] {
  const worker = join(dirname(fileURLToPath(import.meta.url)), 'hub-memory-worker.ts');
  return sizes.map((skus) => {
    const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', worker, String(skus)], {
      encoding: 'utf8',
      maxBuffer: 1024 * 1024,
    });
    if (run.status !== 0) throw new Error(`hub memory worker failed: ${run.stderr}`);
    const r = Report.parse(JSON.parse(run.stdout.trim().split('\n').at(-1) ?? ''));
    const n = (value: number): string => value.toLocaleString('en-US');
    return {
      name: `hub memory, ${n(skus)} SKU docs touched once then idle`,
      value: `RSS ${mib(r.idle.rss)} idle; JS heap used ${mib(r.idle.heapUsed)}`,
      note:
        `at start RSS ${mib(r.baseline.rss)}, heap used ${mib(r.baseline.heapUsed)}; while touching at most ` +
        `${n(r.touched.maxResident)} docs resident, heap used ${mib(r.touched.heapUsed)} (V8 kept ${mib(r.touched.heapTotal)} reserved), ` +
        `RSS ${mib(r.touched.rss)}; sql.js database ${mib(r.dbBytes)} (held in WASM memory); ` +
        `${n(skus)} touches in ${(r.touchMs / 1000).toFixed(1)} s`,
    };
  });
}
