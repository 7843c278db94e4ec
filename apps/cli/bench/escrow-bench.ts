import { signStoreToken } from '@shelfsync/hub';
import { StoreIdSchema, seededRandom } from '@shelfsync/protocol';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  TcpProxy,
  metricSum,
  startHubProcess,
  startStoreProcess,
  writeSecretFile,
  type ChildCommand,
} from '../src/index.js';

export interface BenchRow {
  readonly name: string;
  readonly value: string;
  readonly note: string;
}

const STORES = ['north', 'central', 'south'] as const;
/** Sales per second at each store: north sells five times faster than the others. */
const SALE_RATE: Record<(typeof STORES)[number], number> = { north: 10, central: 2, south: 2 };
const SKUS = Array.from({ length: 20 }, (_, i) => `ESC-${String(i).padStart(2, '0')}`);
const STOCK_PER_STORE = 120;
const SECONDS = 40;
/** Seconds from the start: [store, cut at, restored at]. */
const PARTITIONS: [string, number, number][] = [
  ['north', 10, 20],
  ['south', 25, 33],
];

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/**
 * A seeded workload against a real hub and three stores, each behind a TCP
 * proxy that the schedule cuts: skewed sales at the stores, online
 * reservations (confirmed, cancelled or left to expire) at the hub. Time is
 * compressed: the allocator's horizon is 60 s and its half-life 20 s, standing
 * for hours in a shop.
 */
export async function runEscrowBench(seed = 7): Promise<BenchRow[]> {
  const random = seededRandom(seed);
  const dir = mkdtempSync(join(tmpdir(), 'shelfsync-escrow-bench-'));
  const secret = 'bench-secret-0123456789abcdef';
  const apiToken = 'bench-api-token-0123456789';
  const env = { env: { SHELFSYNC_LOG_LEVEL: 'warn', SHELFSYNC_ESCROW_HALF_LIFE_MS: '20000' } };
  const children: ChildCommand[] = [];
  const proxies = new Map<string, TcpProxy>();
  try {
    const hub = await startHubProcess(
      {
        port: 0,
        dataDir: join(dir, 'hub'),
        secretFile: writeSecretFile(join(dir, 'secrets', 'hub-secret'), secret),
        flags: [
          '--api-token-file',
          writeSecretFile(join(dir, 'secrets', 'api-tokens'), apiToken),
          '--escrow-horizon-ms',
          '60000',
          '--escrow-rebalance-ms',
          '2000',
          '--reservation-ttl-ms',
          '5000',
        ],
      },
      env,
    );
    children.push(hub);
    const hubPort = Number(new URL(hub.url).port);
    const storeUrls = new Map<string, string>();
    for (const id of STORES) {
      const proxy = await TcpProxy.start(hubPort);
      proxies.set(id, proxy);
      const store = await startStoreProcess(
        {
          id,
          hubUrl: `ws://127.0.0.1:${proxy.port}`,
          port: 0,
          dataDir: join(dir, id),
          tokenFile: writeSecretFile(
            join(dir, 'secrets', `${id}.token`),
            signStoreToken(StoreIdSchema.parse(id), secret),
          ),
        },
        env,
      );
      children.push(store);
      storeUrls.set(id, store.url);
    }
    const post = async (url: string, body: unknown, key: string, headers: Record<string, string> = {}) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key, ...headers },
        body: JSON.stringify(body),
      });
      return {
        status: res.status,
        timing: res.headers.get('server-timing'),
        body: (await res.json()) as Record<string, unknown>,
      };
    };
    for (const id of STORES) {
      for (const sku of SKUS) {
        await post(`${storeUrls.get(id) ?? ''}/v1/receipts`, { sku, quantity: STOCK_PER_STORE }, `in-${id}-${sku}`);
      }
    }

    const pickSku = (): string => SKUS[Math.floor(random() ** 2 * SKUS.length)] ?? 'ESC-00';
    const sales = { attempted: 0, sold: 0, refused: 0, refusedOffline: 0 };
    const topUpMs: number[] = [];
    const reservations = { attempted: 0, held: 0, refused: 0, confirmed: 0, cancelled: 0 };
    const auth = { authorization: `Bearer ${apiToken}` };
    const inFlight = new Set<Promise<unknown>>();
    const track = (work: Promise<unknown>): void => {
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work));
    };
    let n = 0;
    const sell = (id: string): void => {
      sales.attempted++;
      track(
        post(`${storeUrls.get(id) ?? ''}/v1/sales`, { sku: pickSku(), quantity: 1 }, `sale-${n++}`).then((res) => {
          if (res.status === 201) sales.sold++;
          else {
            sales.refused++;
            if ((res.body.details as { hubReachable?: boolean } | undefined)?.hubReachable === false)
              sales.refusedOffline++;
          }
          const ms = /topup;dur=([\d.]+)/.exec(res.timing ?? '')?.[1];
          if (ms !== undefined) topUpMs.push(Number(ms));
        }),
      );
    };
    const reserve = (): void => {
      reservations.attempted++;
      const store = random() < 0.7 ? STORES[Math.floor(random() * STORES.length)] : undefined;
      const fate = random();
      track(
        post(
          `${hub.url}/v1/reservations`,
          { sku: pickSku(), quantity: 1, ...(store === undefined ? {} : { storeId: store }) },
          `r-${n++}`,
          auth,
        ).then(async (res) => {
          if (res.status !== 201) {
            reservations.refused++;
            return;
          }
          reservations.held++;
          const id = String(res.body.id);
          if (fate < 0.5) {
            if ((await post(`${hub.url}/v1/reservations/${id}/confirm`, {}, `c-${id}`, auth)).status === 200)
              reservations.confirmed++;
          } else if (fate < 0.7) {
            if ((await post(`${hub.url}/v1/reservations/${id}/cancel`, {}, `x-${id}`, auth)).status === 200)
              reservations.cancelled++;
          }
          // The rest are left to expire.
        }),
      );
    };

    const started = performance.now();
    const tick = 50;
    for (let t = 0; t < SECONDS * 1000; t += tick) {
      const second = t / 1000;
      for (const [id, cut, restore] of PARTITIONS) {
        if (second === cut) proxies.get(id)?.partition();
        if (second === restore) proxies.get(id)?.restore();
      }
      for (const id of STORES) {
        // Poisson arrivals per tick.
        if (random() < (SALE_RATE[id] * tick) / 1000) sell(id);
      }
      if (random() < (2 * tick) / 1000) reserve();
      const wait = started + t + tick - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    await Promise.all([...inFlight]);

    let refusedWithStock = 0;
    let toppedUp = 0;
    for (const id of STORES) {
      const text = await (await fetch(`${storeUrls.get(id) ?? ''}/metrics`)).text();
      refusedWithStock += metricSum(text, 'shelfsync_sales_refused_with_chain_stock_total');
      toppedUp += metricSum(text, 'shelfsync_sales_total', { outcome: 'topped_up' });
    }
    // Wait for every store to be back in step, then read the split and check the books.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    let pos = 0;
    let online = 0;
    let negative = 0;
    for (const sku of SKUS) {
      const res = await fetch(`${hub.url}/v1/skus/${sku}`);
      const body = (await res.json()) as {
        available: number;
        locations: { posRights: number; onlineRights: number }[];
      };
      for (const l of body.locations) {
        pos += l.posRights;
        online += l.onlineRights;
        if (l.posRights < 0 || l.onlineRights < 0) negative++;
      }
      if (body.available < 0) negative++;
    }
    const sorted = [...topUpMs].sort((a, b) => a - b);
    const pct = (a: number, b: number): string => `${b === 0 ? 0 : ((100 * a) / b).toFixed(1)}%`;
    const workload = `seed ${seed}, ${SECONDS} s, 3 stores (10/2/2 sales/s), 2 reservations/s, north cut 10-20 s, south cut 25-33 s`;
    return [
      {
        name: 'escrow: sales served',
        value: `${sales.sold} of ${sales.attempted} (${pct(sales.sold, sales.attempted)})`,
        note: `${workload}; ${sales.refusedOffline} refused while cut off`,
      },
      {
        name: 'escrow: sales refused while the chain had stock',
        value: `${refusedWithStock} (${pct(refusedWithStock, sales.attempted)} of attempts)`,
        note: 'the price of bounded reservation: units existed elsewhere (another store, the online escrow) but not in this POS quota',
      },
      {
        name: 'escrow: sales that needed a hub round trip',
        value: `${toppedUp} of ${sales.sold} sold (${pct(toppedUp, sales.sold)})`,
        note: 'topped up from the online escrow while connected; the rest were covered by the local quota',
      },
      {
        name: 'escrow: top-up wait at the store',
        value:
          sorted.length === 0
            ? 'none'
            : `p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms`,
        note: `${sorted.length} waits (Server-Timing), including refused ones; the bound is --top-up-wait-ms (250 ms)`,
      },
      {
        name: 'escrow: online reservations',
        value: `${reservations.held} of ${reservations.attempted} held`,
        note: `${reservations.refused} refused (INSUFFICIENT_STOCK), ${reservations.confirmed} confirmed, ${reservations.cancelled} cancelled, the rest expired after 5 s`,
      },
      {
        name: 'escrow: rights held per side at the end',
        value: `POS ${pos}, online escrow ${online}`,
        note: `over ${SKUS.length} SKUs x 3 stores; ${negative} negative balances (oversold units: ${negative === 0 ? 0 : 'see log'})`,
      },
    ];
  } finally {
    for (const proxy of proxies.values()) await proxy.close();
    await Promise.all(children.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}
