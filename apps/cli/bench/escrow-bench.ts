import { seededRandom } from '@shelfsync/protocol';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ProcessCluster, TcpProxy, metricSum } from '../src/index.js';

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
/** Each store's link to the hub: 10 ms each way, 20 ms round trip, an ordinary WAN. */
const LINK_LATENCY_MS = 10;
/** Seconds from the start: [store, cut at, restored at]. */
const PARTITIONS: [string, number, number][] = [
  ['north', 10, 20],
  ['south', 25, 33],
];
/** The sequential run: sales one after another at one store, with online orders for pickup there meanwhile. */
const SEQUENTIAL_SALES = 2_000;
const SEQUENTIAL_SKUS = Array.from({ length: 10 }, (_, i) => `SEQ-${i}`);

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const pct = (a: number, b: number): string => `${b === 0 ? 0 : ((100 * a) / b).toFixed(1)}%`;

/** What a refused sale's problem+json says; anything else is "unknown". */
const RefusalSchema = z.looseObject({
  details: z
    .looseObject({
      cause: z.string().optional(),
      requested: z.number().optional(),
      availableAtLocation: z.number().optional(),
    })
    .optional(),
});
const LocationsSchema = z.looseObject({
  locations: z.array(z.looseObject({ location: z.string(), posRights: z.number(), reservable: z.number() })).optional(),
});

interface Answer {
  readonly status: number;
  readonly timing: string | null;
  readonly body: unknown;
}

async function post(url: string, body: unknown, key: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key, ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, timing: res.headers.get('server-timing'), body: await res.json() };
}

const topUpMsOf = (answer: Answer): number | undefined => {
  const ms = /topup;dur=([\d.]+)/.exec(answer.timing ?? '')?.[1];
  return ms === undefined ? undefined : Number(ms);
};

/** A refused sale's cause. */
const causeOf = (answer: Answer): string => RefusalSchema.safeParse(answer.body).data?.details?.cause ?? 'unknown';

/**
 * Whether a refused sale turned away a customer while the shelf had an
 * unpromised unit: not for an empty location, nor when the hub answered that
 * every unit left is reserved for online pickup (online_escrow with fewer
 * available than asked); an unreachable hub or a timed-out top-up counts.
 */
function withUnitInHand(answer: Answer): boolean {
  const details = RefusalSchema.safeParse(answer.body).data?.details;
  if (details?.cause === 'location_empty') return false;
  if (details?.cause === 'online_escrow') return (details.availableAtLocation ?? 0) >= (details.requested ?? 1);
  return true;
}

/**
 * A seeded workload against a real hub and three stores, each behind a TCP
 * proxy with 10 ms each way that the schedule cuts: skewed sales at the stores,
 * online reservations (confirmed, cancelled or left to expire) at the hub. Time
 * is compressed: the allocator's horizon is 60 s and its half-life 20 s,
 * standing for hours in a shop. Then 2,000 sequential sales at one store while
 * online orders for pickup there keep its escrow in play.
 */
export async function runEscrowBench(seed = 7): Promise<BenchRow[]> {
  const random = seededRandom(seed);
  const apiToken = 'bench-api-token-0123456789';
  const cluster = new ProcessCluster({
    dir: mkdtempSync(join(tmpdir(), 'shelfsync-escrow-bench-')),
    secret: 'bench-secret-0123456789abcdef',
    apiToken,
    start: { env: { SHELFSYNC_LOG_LEVEL: 'warn', SHELFSYNC_ESCROW_HALF_LIFE_MS: '20000' } },
    hubFlags: ['--escrow-horizon-ms', '60000', '--escrow-rebalance-ms', '2000', '--reservation-ttl-ms', '5000'],
  });
  const proxies = new Map<string, TcpProxy>();
  try {
    const hub = await cluster.startHub();
    const storeUrls = new Map<string, string>();
    const storeUrl = (id: string): string => storeUrls.get(id) ?? '';
    for (const id of [...STORES, 'east']) {
      const proxy = await TcpProxy.start(cluster.hubPort);
      proxy.degrade({ latencyMs: LINK_LATENCY_MS });
      proxies.set(id, proxy);
      storeUrls.set(id, (await cluster.startStore(id, { hubPort: proxy.port })).url);
    }
    for (const id of STORES) {
      for (const sku of SKUS)
        await post(`${storeUrl(id)}/v1/receipts`, { sku, quantity: STOCK_PER_STORE }, `in-${id}-${sku}`);
    }

    const pickSku = (): string => SKUS[Math.floor(random() ** 2 * SKUS.length)] ?? 'ESC-00';
    const sales = { attempted: 0, sold: 0, refused: 0, inHand: 0, byCause: new Map<string, number>() };
    const cutOff = { attempted: 0, sold: 0 };
    const topUpMs: number[] = [];
    const reservations = { attempted: 0, held: 0, refused: 0, couldFill: 0, confirmed: 0, cancelled: 0 };
    const auth = { authorization: `Bearer ${apiToken}` };
    const inFlight = new Set<Promise<unknown>>();
    const track = (work: Promise<unknown>): void => {
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work));
    };
    const cut = new Set<string>();
    let n = 0;
    const sell = (id: string): void => {
      sales.attempted++;
      const whileCut = cut.has(id);
      if (whileCut) cutOff.attempted++;
      track(
        post(`${storeUrl(id)}/v1/sales`, { sku: pickSku(), quantity: 1 }, `sale-${n++}`).then((res) => {
          if (res.status === 201) {
            sales.sold++;
            if (whileCut) cutOff.sold++;
          } else {
            sales.refused++;
            const cause = causeOf(res);
            sales.byCause.set(cause, (sales.byCause.get(cause) ?? 0) + 1);
            if (withUnitInHand(res)) sales.inHand++;
          }
          const ms = topUpMsOf(res);
          if (ms !== undefined) topUpMs.push(ms);
        }),
      );
    };
    /** Whether the shelf could have filled a refused order: the named location's, or any location's, unpromised units. */
    const shelfCouldFill = async (sku: string, quantity: number, store: string | undefined): Promise<boolean> => {
      const read = LocationsSchema.safeParse(await (await fetch(`${hub.url}/v1/skus/${sku}`)).json());
      const locations = (read.data?.locations ?? []).filter((l) => store === undefined || l.location === store);
      return locations.some((l) => Math.max(0, l.posRights) + l.reservable >= quantity);
    };
    const reserve = (): void => {
      reservations.attempted++;
      const store = random() < 0.7 ? STORES[Math.floor(random() * STORES.length)] : undefined;
      const fate = random();
      const sku = pickSku();
      track(
        post(
          `${hub.url}/v1/reservations`,
          { sku, quantity: 1, ...(store === undefined ? {} : { storeId: store }) },
          `r-${n++}`,
          auth,
        ).then(async (res) => {
          if (res.status !== 201) {
            reservations.refused++;
            if (await shelfCouldFill(sku, 1, store)) reservations.couldFill++;
            return;
          }
          reservations.held++;
          const id = String(z.looseObject({ id: z.string() }).safeParse(res.body).data?.id);
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
      for (const [id, from, to] of PARTITIONS) {
        if (second === from) {
          proxies.get(id)?.partition();
          cut.add(id);
        }
        if (second === to) {
          proxies.get(id)?.restore();
          cut.delete(id);
        }
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
      const text = await (await fetch(`${storeUrl(id)}/metrics`)).text();
      refusedWithStock += metricSum(text, 'shelfsync_sales_refused_with_chain_stock_total');
      toppedUp += metricSum(text, 'shelfsync_sales_total', { outcome: 'topped_up' });
    }

    const sequential = await runSequential(storeUrl('east'), hub.url, auth, random);

    // Wait for every store to be back in step, then read the split and check the books.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    let pos = 0;
    let online = 0;
    let negative = 0;
    for (const sku of [...SKUS, ...SEQUENTIAL_SKUS]) {
      const body = (await (await fetch(`${hub.url}/v1/skus/${sku}`)).json()) as {
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
    const causes = [...sales.byCause].map(([cause, count]) => `${cause} ${count}`).join(', ') || 'none';
    const servedOnline = reservations.held + (reservations.refused - reservations.couldFill);
    const workload = `seed ${seed}, ${SECONDS} s, 3 stores (10/2/2 sales/s), 2 reservations/s, links ${LINK_LATENCY_MS} ms each way, north cut 10-20 s, south cut 25-33 s`;
    return [
      {
        name: 'escrow: sales served',
        value: `${sales.sold} of ${sales.attempted} (${pct(sales.sold, sales.attempted)})`,
        note: `${workload}; refused by cause: ${causes}`,
      },
      {
        name: 'escrow: in-store sales served while cut off',
        value: `${cutOff.sold} of ${cutOff.attempted} (${pct(cutOff.sold, cutOff.attempted)})`,
        note: 'sales at a store while its link was cut; the target is at least 99%',
      },
      {
        name: 'escrow: sales refused with the unit in hand',
        value: `${sales.inHand} (${pct(sales.inHand, sales.attempted)} of attempts)`,
        note: 'the shelf had an unpromised unit: not location_empty, nor online_escrow with every unit left reserved for pickup; the target is at most 0.5%',
      },
      {
        name: 'escrow: sales refused while the chain had stock',
        value: `${refusedWithStock} (${pct(refusedWithStock, sales.attempted)} of attempts)`,
        note: 'as each store last knew the chain; includes location_empty (the units were at another location, not this shelf)',
      },
      {
        name: 'escrow: online orders the shelf could fill, served',
        value: `${reservations.held} of ${reservations.held + reservations.couldFill} (${pct(reservations.held, reservations.held + reservations.couldFill)})`,
        note: `${reservations.attempted} orders; ${reservations.refused} refused, ${reservations.couldFill} of them while the location (or, without a store, some location) had the unit unpromised; ${servedOnline} of ${reservations.attempted} served or rightly refused; ${reservations.confirmed} confirmed, ${reservations.cancelled} cancelled, the rest expired after 5 s`,
      },
      {
        name: 'escrow: sales that needed a hub round trip',
        value: `${toppedUp} of ${sales.sold} sold (${pct(toppedUp, sales.sold)})`,
        note: 'topped up from the online escrow while connected; the rest were covered by the till’s own rights',
      },
      {
        name: 'escrow: top-up wait at the store (20 ms RTT)',
        value:
          sorted.length === 0
            ? 'none'
            : `p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms`,
        note: `${sorted.length} waits (Server-Timing), including refused ones; the bound is --top-up-wait-ms (250 ms)`,
      },
      ...sequential,
      {
        name: 'escrow: rights held per side at the end',
        value: `POS ${pos}, online escrow ${online}`,
        note: `over ${SKUS.length + SEQUENTIAL_SKUS.length} SKUs; ${negative} negative balances (oversold units: ${negative === 0 ? 0 : 'see log'})`,
      },
    ];
  } finally {
    for (const proxy of proxies.values()) await proxy.close();
    await cluster.stop();
    rmSync(cluster.dir, { recursive: true, force: true });
  }
}

/**
 * 2,000 sales one after another at a store 20 ms (round trip) from the hub,
 * while online orders for pickup there (4 a second) pull units into its escrow,
 * so the till runs short and tops up, until every shelf is empty: every refusal
 * but an empty location is a customer turned away with the unit in hand.
 */
async function runSequential(
  store: string,
  hub: string,
  auth: Record<string, string>,
  random: () => number,
): Promise<BenchRow[]> {
  // As many units as sales: with the orders taking some, every shelf runs out, so the last units of each
  // sit in the escrow when the till reaches them and the sale waits on a top-up.
  const shelf = Math.ceil(SEQUENTIAL_SALES / SEQUENTIAL_SKUS.length);
  for (const sku of SEQUENTIAL_SKUS) await post(`${store}/v1/receipts`, { sku, quantity: shelf }, `seq-in-${sku}`);
  let ordering = true;
  const orders = { attempted: 0, held: 0 };
  const orderLoop = (async () => {
    for (let i = 0; ordering; i++) {
      const sku = SEQUENTIAL_SKUS[Math.floor(random() * SEQUENTIAL_SKUS.length)] ?? 'SEQ-0';
      orders.attempted++;
      const res = await post(`${hub}/v1/reservations`, { sku, quantity: 1, storeId: 'east' }, `seq-r-${i}`, auth);
      if (res.status === 201) orders.held++;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  const waits: number[] = [];
  const result = { sold: 0, inHand: 0, empty: 0, promised: 0 };
  const started = performance.now();
  for (let i = 0; i < SEQUENTIAL_SALES; i++) {
    const sku = SEQUENTIAL_SKUS[i % SEQUENTIAL_SKUS.length] ?? 'SEQ-0';
    const res = await post(`${store}/v1/sales`, { sku, quantity: 1 }, `seq-sale-${i}`);
    const ms = topUpMsOf(res);
    if (ms !== undefined) waits.push(ms);
    if (res.status === 201) result.sold++;
    else if (causeOf(res) === 'location_empty') result.empty++;
    else if (withUnitInHand(res)) result.inHand++;
    else result.promised++;
  }
  const seconds = (performance.now() - started) / 1000;
  ordering = false;
  await orderLoop;
  const sorted = waits.sort((a, b) => a - b);
  return [
    {
      name: 'escrow: sequential sales refused with the unit in hand',
      value: `${result.inHand} of ${SEQUENTIAL_SALES}`,
      note: `one store 10 ms each way from the hub, ${SEQUENTIAL_SKUS.length} SKUs of ${shelf} units, sold one after another in ${seconds.toFixed(1)} s while ${orders.held} of ${orders.attempted} online orders for pickup there were served; ${result.sold} sold, ${result.empty} refused for an empty location, ${result.promised} because every unit left was reserved for an online pickup (online_escrow with none available)`,
    },
    {
      name: 'escrow: top-up wait in the sequential run (20 ms RTT)',
      value:
        sorted.length === 0
          ? 'none'
          : `p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms, max ${(sorted.at(-1) ?? 0).toFixed(1)} ms`,
      note: `${sorted.length} of ${SEQUENTIAL_SALES} sales waited on a top-up`,
    },
  ];
}
