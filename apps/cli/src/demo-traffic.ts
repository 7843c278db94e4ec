import { seededRandom } from '@shelfsync/protocol';
import { z } from 'zod';
import { metricSum } from './prometheus.js';

/** What the demo reads of an answer: a reservation's id, a refused sale's details. */
const AnswerSchema = z.looseObject({
  id: z.string().optional(),
  details: z
    .looseObject({
      requested: z.number().optional(),
      hubReachable: z.boolean().optional(),
      availableAtLocation: z.number().optional(),
    })
    .optional(),
});

/** Where the demo's traffic goes. */
export interface DemoTargets {
  readonly hubUrl: string;
  readonly apiToken: string;
  readonly stores: readonly { readonly id: string; readonly url: string }[];
  readonly catalog: readonly string[];
}

/** What the demo's traffic did so far, as its clients saw it. */
interface Tally {
  ok: number;
  refused: number;
  /** Sales refused at a connected store whose location held the units, as the hub answered: never expected. */
  refusedWithOwnStock: number;
  orders: number;
  ordersRefused: number;
}

/**
 * The demo's seeded traffic: sales, receipts and returns at the stores' tills,
 * and online orders for pickup at a store (held at the hub, most confirmed a few
 * seconds later, some left to expire), so both channels compete for each shelf
 * and the allocator has something to do. `stop` ends it.
 */
export function startDemoTraffic(targets: DemoTargets, seed: number, perSecond: number): { stop(): void } {
  const random = seededRandom(seed);
  const tally: Tally = { ok: 0, refused: 0, refusedWithOwnStock: 0, orders: 0, ordersRefused: 0 };
  const auth = { authorization: `Bearer ${targets.apiToken}` };
  let n = 0;
  const key = (): string => `demo-${seed}-${n++}-${Date.now()}`;
  const pick = <T>(list: readonly T[]): T | undefined => list[Math.floor(random() * list.length)];
  const traffic = setInterval(() => {
    const store = pick(targets.stores);
    const sku = pick(targets.catalog);
    if (store === undefined || sku === undefined) return;
    const r = random();
    if (r < 0.15) {
      tally.orders++;
      post(`${targets.hubUrl}/v1/reservations`, { sku, quantity: 1, storeId: store.id }, key(), auth).then(
        ({ status, body }) => {
          if (status !== 201) tally.ordersRefused++;
          // Picked up a few seconds later, most of the time; the rest expire.
          else if (random() < 0.8 && body.id !== undefined) {
            const id = body.id;
            setTimeout(
              () => void post(`${targets.hubUrl}/v1/reservations/${id}/confirm`, {}, key(), auth).catch(() => {}),
              3_000,
            );
          }
        },
        () => tally.ordersRefused++,
      );
      return;
    }
    const [path, quantity] =
      r < 0.75 ? ['/v1/sales', 1 + Math.floor(random() * 2)] : r < 0.88 ? ['/v1/receipts', 5] : ['/v1/returns', 1];
    post(`${store.url}${path}`, { sku, quantity }, key()).then(
      ({ status, body }) => {
        if (status === 201) {
          tally.ok++;
          return;
        }
        tally.refused++;
        const details = body.details;
        if (details?.hubReachable === true && (details.availableAtLocation ?? 0) >= (details.requested ?? quantity)) {
          tally.refusedWithOwnStock++;
        }
      },
      () => tally.refused++,
    );
  }, 1000 / perSecond);
  const report = setInterval(() => {
    void describe(targets, tally).then((line) => process.stdout.write(`${line}\n`));
  }, 5000);
  return {
    stop: () => {
      clearInterval(traffic);
      clearInterval(report);
    },
  };
}

/** One status line: the clients' tally, and the stores' own counts of how sales went and why any were refused. */
async function describe(targets: DemoTargets, tally: Tally): Promise<string> {
  const sales = { local: 0, toppedUp: 0 };
  const causes: Record<string, number> = { location_empty: 0, hub_unreachable: 0, online_escrow: 0, topup_timeout: 0 };
  try {
    for (const store of targets.stores) {
      const text = await (await fetch(`${store.url}/metrics`)).text();
      sales.local += metricSum(text, 'shelfsync_sales_total', { outcome: 'local' });
      sales.toppedUp += metricSum(text, 'shelfsync_sales_total', { outcome: 'topped_up' });
      for (const cause of Object.keys(causes)) {
        causes[cause] = (causes[cause] ?? 0) + metricSum(text, 'shelfsync_sales_refused_total', { cause });
      }
    }
  } catch {
    return `operations ok ${tally.ok}, refused ${tally.refused}; a store did not answer`;
  }
  const refusals = Object.entries(causes)
    .map(([cause, count]) => `${cause} ${count}`)
    .join(', ');
  return `sales: ${sales.local} from the till's rights, ${sales.toppedUp} topped up; refused: ${refusals}; refused while a connected store's location had the units: ${tally.refusedWithOwnStock} | online orders ${tally.orders - tally.ordersRefused} of ${tally.orders} held | operations ok ${tally.ok}, refused ${tally.refused}`;
}

async function post(
  url: string,
  body: unknown,
  key: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: z.infer<typeof AnswerSchema> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: only the status counts.
  }
  return { status: res.status, body: AnswerSchema.safeParse(parsed).data ?? {} };
}
