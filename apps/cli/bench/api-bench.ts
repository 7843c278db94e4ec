import { seededRandom } from '@shelfsync/protocol';
import autocannon from 'autocannon';
import { mkdtempSync, rmSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessCluster, metricSamples, metricSum } from '../src/index.js';
import { runWrk, wrkAvailable, type WrkResult } from './wrk.js';
import { postJson } from './post-json.js';

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
/**
 * The hub's cumulative histogram of GET /v1/skus/:sku 200s (count, and count per
 * bucket upper bound), and its event-loop delay since the previous scrape.
 */
async function serverSide(
  hub: string,
): Promise<{ count: number; buckets: Map<string, number>; delay: { p99: number; max: number } }> {
  const text = await (await fetch(`${hub}/metrics`)).text();
  // prom-client's monitor samples every 10 ms and records whole intervals.
  const delay = (name: string): number => Math.max(0, 1000 * metricSum(text, name) - 10);
  const reads = { method: 'GET', route: '/v1/skus/:sku', status: '200' };
  const buckets = new Map(
    metricSamples(text, 'shelfsync_http_request_duration_seconds_bucket', reads).map((s) => [
      s.labels.get('le') ?? '',
      s.value,
    ]),
  );
  return {
    count: metricSum(text, 'shelfsync_http_request_duration_seconds_count', reads),
    buckets,
    delay: {
      p99: delay('shelfsync_nodejs_eventloop_lag_p99_seconds'),
      max: delay('shelfsync_nodejs_eventloop_lag_max_seconds'),
    },
  };
}

export async function runApiBench(rate = 2_000, seconds = 10): Promise<BenchRow[]> {
  const cluster = new ProcessCluster({
    dir: mkdtempSync(join(tmpdir(), 'shelfsync-api-bench-')),
    secret: 'bench-secret-0123456789abcdef',
    apiToken: 'bench-api-token-0123456789',
    start: { env: { SHELFSYNC_LOG_LEVEL: 'warn' } },
    // No rate limit: the load generator is one client.
    hubFlags: ['--rate-limit', '0'],
  });
  let selling = true;
  try {
    const hub = await cluster.startHub();
    const stores: string[] = [];
    for (const id of STORES) stores.push((await cluster.startStore(id)).url);
    const post = async (url: string, body: unknown, key: string): Promise<number> =>
      (await postJson(url, body, key)).status;
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
    // autocannon runs on this process's event loop: its stalls are counted as latency.
    const own = monitorEventLoopDelay({ resolution: 1 });
    own.enable();
    const plain = await run(false);
    own.disable();
    const after = await serverSide(hub.url);
    const conditional = await run(true);
    // The same load from wrk, whose own cost on the shared cores is a fraction of autocannon's.
    const wrk = async (conditional: boolean): Promise<WrkResult> => {
      const paths = Array.from(
        { length: 4 * SKUS.length },
        () => `/v1/skus/${SKUS[Math.floor(pick() * SKUS.length)] ?? ''}`,
      );
      return runWrk({
        base: hub.url,
        paths,
        rate,
        connections: 32,
        seconds,
        dir: cluster.dir,
        ...(conditional ? { headers: { 'If-None-Match': '"x-0"' } } : {}),
      });
    };
    const withWrk = (await wrkAvailable()) ? { plain: await wrk(false), conditional: await wrk(true) } : null;
    const writes = (sold - soldBefore) / ((withWrk === null ? 2 : 4) * seconds);
    selling = false;
    await Promise.all(sellers);

    const row = (name: string, r: autocannon.Result): BenchRow => ({
      name,
      value: `p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`,
      note: `${Math.round(r.requests.average).toLocaleString('en-US')} reads/s achieved of ${rate.toLocaleString('en-US')} offered, ${r.non2xx} non-2xx, ${r.errors} errors, max ${r.latency.max} ms; 3 stores writing ${writes.toFixed(0)} sales/s meanwhile; ${SKUS.length} SKUs; 32 connections, ${seconds} s after a 3 s warm-up`,
    });
    const wrkRow = (name: string, r: WrkResult): BenchRow => ({
      name,
      value: `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`,
      note: `${Math.round(r.requestsPerSecond).toLocaleString('en-US')} reads/s, ${r.non2xx3xx} non-2xx/3xx, ${r.socketErrors} socket errors, max ${r.max.toFixed(1)} ms; 32 connections paced by think time (closed loop), ${seconds} s, stores still writing`,
    });
    const served = after.count - before.count;
    const share = (le: string): string =>
      `${((100 * ((after.buckets.get(le) ?? 0) - (before.buckets.get(le) ?? 0))) / Math.max(1, served)).toFixed(1)}%`;
    return [
      row('storefront read GET /v1/skus/:sku under load', plain),
      {
        name: "autocannon's own event loop over that run",
        // The monitor records whole 1 ms intervals: take the interval off.
        value: `delay p99 ${(own.percentile(99) / 1e6 - 1).toFixed(1)} ms, max ${(own.max / 1e6 - 1).toFixed(1)} ms`,
        note: 'autocannon measures on a Node event loop sharing the two cores; a stall there is counted as read latency',
      },
      {
        name: 'same reads, as the hub timed them',
        value: `${share('0.005')} under 5 ms, ${share('0.01')} under 10 ms`,
        note: `the hub's own histogram (shelfsync_http_request_duration_seconds) over the ${served.toLocaleString('en-US')} reads of the first run: handling time, without the load generator's and the kernel's share of the two cores`,
      },
      {
        name: "the hub's event loop over the same run",
        value: `delay p99 ${after.delay.p99.toFixed(1)} ms, max ${after.delay.max.toFixed(1)} ms`,
        note: 'how long a read that arrived could wait before the hub began it (prom-client event-loop monitor, 10 ms sampling)',
      },
      row('same, with a stale If-None-Match', conditional),
      ...(withWrk === null
        ? [
            {
              name: 'same reads from wrk',
              value: 'not run',
              note: 'wrk is not installed (Debian: apt-get install wrk)',
            },
          ]
        : [
            wrkRow('same reads from wrk (C load generator)', withWrk.plain),
            wrkRow('same, from wrk, with a stale If-None-Match', withWrk.conditional),
          ]),
    ];
  } finally {
    selling = false;
    await cluster.stop();
    rmSync(cluster.dir, { recursive: true, force: true });
  }
}
