import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessCluster } from '../src/index.js';

export interface BenchRow {
  readonly name: string;
  readonly value: string;
  readonly note: string;
}

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/**
 * Durable sale acknowledgement at one store process (journal fsynced before the
 * answer), with 1, 8 and 64 clients selling concurrently for a few seconds each.
 * Group commit shows as throughput that grows with concurrency.
 */
export async function runDurableAckBench(seconds = 5): Promise<BenchRow[]> {
  const cluster = new ProcessCluster({
    dir: mkdtempSync(join(tmpdir(), 'shelfsync-bench-')),
    secret: 'bench-secret-0123456789abcdef',
    apiToken: 'bench-api-token-0123456789',
    start: { env: { SHELFSYNC_LOG_LEVEL: 'warn' } },
  });
  try {
    await cluster.startHub();
    const store = await cluster.startStore('bench');
    const post = async (path: string, body: unknown, key: string): Promise<number> => {
      const res = await fetch(`${store.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
      });
      await res.arrayBuffer();
      return res.status;
    };
    await post('/v1/receipts', { sku: 'ACK-1', quantity: 100_000_000 }, 'bench-stock');

    const rows: BenchRow[] = [];
    let n = 0;
    for (const clients of [1, 8, 64]) {
      const latencies: number[] = [];
      const deadline = performance.now() + seconds * 1000;
      const client = async (): Promise<void> => {
        while (performance.now() < deadline) {
          const start = performance.now();
          const status = await post('/v1/sales', { sku: 'ACK-1', quantity: 1 }, `bench-sale-${n++}`);
          if (status !== 201) throw new Error(`sale answered ${status}`);
          latencies.push(performance.now() - start);
        }
      };
      const start = performance.now();
      await Promise.all(Array.from({ length: clients }, client));
      const elapsed = (performance.now() - start) / 1000;
      latencies.sort((a, b) => a - b);
      rows.push({
        name: `durable sale acknowledgement, ${clients} concurrent client${clients === 1 ? '' : 's'}`,
        value: `${Math.round(latencies.length / elapsed).toLocaleString('en-US')} sales/s`,
        note: `p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms; journal fsynced before each answer (group commit)`,
      });
    }
    return rows;
  } finally {
    await cluster.stop();
    rmSync(cluster.dir, { recursive: true, force: true });
  }
}
