import { signStoreToken } from '@shelfsync/hub';
import { StoreIdSchema, seededRandom } from '@shelfsync/protocol';
import autocannon from 'autocannon';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metricSamples, metricSum, startHubProcess, startStoreProcess, type ChildCommand } from '../src/index.js';

export interface BenchRow {
  readonly name: string;
  readonly value: string;
  readonly note: string;
}

const STORES = ['north', 'central', 'south'];
const SKUS = Array.from({ length: 500 }, (_, i) => `API-${String(i).padStart(3, '0')}`);

/**
 * Storefront reads at the hub under load from a real HTTP load generator
 * (autocannon), at a fixed offered rate, while three stores keep selling and
 * syncing: the reads compete with merges, journal fsyncs and the allocator.
 */
/** The hub's cumulative histogram of GET /v1/skus/:sku 200s: count, and count per bucket upper bound. */
async function serverSide(hub: string): Promise<{ count: number; buckets: Map<string, number> }> {
  const text = await (await fetch(`${hub}/metrics`)).text();
  const reads = { method: 'GET', route: '/v1/skus/:sku', status: '200' };
  const buckets = new Map(
    metricSamples(text, 'shelfsync_http_request_duration_seconds_bucket', reads).map((s) => [
      s.labels.get('le') ?? '',
      s.value,
    ]),
  );
  return { count: metricSum(text, 'shelfsync_http_request_duration_seconds_count', reads), buckets };
}

export async function runApiBench(rate = 2_000, seconds = 10): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsync-api-bench-'));
  const secret = 'bench-secret-0123456789abcdef';
  const env = { env: { SHELFSYNC_LOG_LEVEL: 'warn' } };
  const children: ChildCommand[] = [];
  let selling = true;
  try {
    // No rate limit: the load generator is one client.
    const hub = await startHubProcess(
      { port: 0, dataDir: join(dir, 'hub'), secret, flags: ['--rate-limit', '0'] },
      env,
    );
    children.push(hub);
    const stores: string[] = [];
    for (const id of STORES) {
      const store = await startStoreProcess(
        {
          id,
          hubUrl: hub.url,
          port: 0,
          dataDir: join(dir, id),
          token: signStoreToken(StoreIdSchema.parse(id), secret),
        },
        env,
      );
      children.push(store);
      stores.push(store.url);
    }
    const post = async (url: string, body: unknown, key: string): Promise<number> => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
      });
      await res.arrayBuffer();
      return res.status;
    };
    for (const [i, sku] of SKUS.entries()) {
      await post(`${stores[i % stores.length] ?? ''}/v1/receipts`, { sku, quantity: 1_000_000 }, `in-${sku}`);
    }
    // Wait until the hub holds every SKU.
    for (;;) {
      const res = await fetch(`${hub.url}/v1/skus/${SKUS.at(-1) ?? ''}`);
      await res.arrayBuffer();
      if (res.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    // Background writes: each store sells about 20 times a second.
    const random = seededRandom(11);
    let sold = 0;
    const sellers = stores.map(async (url, s) => {
      for (let i = 0; selling; i++) {
        const started = performance.now();
        if (
          (await post(
            `${url}/v1/sales`,
            { sku: SKUS[Math.floor(random() * SKUS.length)], quantity: 1 },
            `s${s}-${i}`,
          )) === 201
        )
          sold++;
        const wait = 50 - (performance.now() - started);
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    });

    const pick = seededRandom(5);
    const run = (conditional: boolean, duration = seconds) =>
      autocannon({
        url: hub.url,
        connections: 32,
        duration,
        overallRate: rate,
        requests: [
          {
            method: 'GET',
            setupRequest: (request) => ({
              ...request,
              path: `/v1/skus/${SKUS[Math.floor(pick() * SKUS.length)] ?? 'API-000'}`,
              // A CDN or browser revalidating: the ETag of a version long gone or current.
              ...(conditional ? { headers: { 'if-none-match': '"x-0"' } } : {}),
            }),
          },
        ],
      });
    // Warm up (JIT, documents loaded, caches filled), then measure the steady state.
    await run(false, 3);
    const soldBefore = sold;
    const before = await serverSide(hub.url);
    const plain = await run(false);
    const after = await serverSide(hub.url);
    const conditional = await run(true);
    const writes = (sold - soldBefore) / (2 * seconds);
    selling = false;
    await Promise.all(sellers);

    const row = (name: string, r: autocannon.Result): BenchRow => ({
      name,
      value: `p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`,
      note: `${Math.round(r.requests.average).toLocaleString('en-US')} reads/s achieved of ${rate.toLocaleString('en-US')} offered, ${r.non2xx} non-2xx, ${r.errors} errors, max ${r.latency.max} ms; 3 stores writing ${writes.toFixed(0)} sales/s meanwhile; ${SKUS.length} SKUs; 32 connections, ${seconds} s after a 3 s warm-up`,
    });
    const served = after.count - before.count;
    const share = (le: string): string =>
      `${((100 * ((after.buckets.get(le) ?? 0) - (before.buckets.get(le) ?? 0))) / Math.max(1, served)).toFixed(1)}%`;
    return [
      row('storefront read GET /v1/skus/:sku under load', plain),
      {
        name: 'same reads, as the hub timed them',
        value: `${share('0.005')} under 5 ms, ${share('0.01')} under 10 ms`,
        note: `the hub's own histogram (shelfsync_http_request_duration_seconds) over the ${served.toLocaleString('en-US')} reads of the first run: handling time, without the load generator's and the kernel's share of the two cores`,
      },
      row('same, with a stale If-None-Match', conditional),
    ];
  } finally {
    selling = false;
    await Promise.all(children.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}
