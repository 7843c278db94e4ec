import { seededRandom } from '@shelfsync/protocol';
import { z } from 'zod';

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

type Answer = { status: number; body: z.infer<typeof AnswerSchema> };

/** Where the demo's traffic goes. */
export interface DemoTargets {
  /** Every hub node; online orders and storefront reads take turns over them. */
  readonly hubUrls: readonly string[];
  readonly apiToken: string;
  readonly stores: readonly { readonly id: string; readonly url: string }[];
  readonly catalog: readonly string[];
}

/** What the demo's traffic did so far, as its clients saw it. */
export interface Tally {
  ok: number;
  refused: number;
  /** Sales refused at a connected store whose location held the units, as the hub answered: never expected. */
  refusedWithOwnStock: number;
  orders: number;
  ordersHeld: number;
  /** Orders the hub refused (409: no stock to hold) or never decided within the retry window. */
  ordersRefused: number;
  /** Answers that said to ask again (503) or a node that did not answer, each retried with the same key. */
  retries: number;
  reads: number;
  readsFailed: number;
}

/** The running traffic: its tally, and `stop`, which resolves once every request in flight is answered. */
export interface DemoTraffic {
  readonly tally: Readonly<Tally>;
  stop(): Promise<void>;
}

/** How long an order is retried (503, node down) before it counts as refused: longer than a lease's failover. */
const ORDER_RETRY_MS = 15_000;

/**
 * The demo's seeded traffic: sales, receipts and returns at the stores' tills,
 * online orders for pickup at a store (held at a hub node, most confirmed a few
 * seconds later at another, some left to expire), and storefront reads of a
 * SKU, so both channels compete for each shelf and, on a cluster, every node
 * serves a share. `stop` ends it.
 */
export function startDemoTraffic(targets: DemoTargets, seed: number, perSecond: number): DemoTraffic {
  const random = seededRandom(seed);
  const tally: Tally = {
    ok: 0,
    refused: 0,
    refusedWithOwnStock: 0,
    orders: 0,
    ordersHeld: 0,
    ordersRefused: 0,
    retries: 0,
    reads: 0,
    readsFailed: 0,
  };
  const inFlight = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>): void => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  };
  const auth = { authorization: `Bearer ${targets.apiToken}` };
  let n = 0;
  let tick = 0;
  let stopping = false;
  const key = (): string => `demo-${seed}-${n++}-${Date.now()}`;
  const pick = <T>(list: readonly T[]): T | undefined => list[Math.floor(random() * list.length)];
  const hub = (turn: number): string => targets.hubUrls[turn % targets.hubUrls.length] ?? '';
  const decide = (turn: number, path: string, body: unknown, idempotencyKey: string): Promise<Answer | null> =>
    postUntilDecided(targets.hubUrls, turn, path, body, idempotencyKey, auth, {
      onRetry: () => tally.retries++,
      giveUp: () => stopping,
    });

  const order = (turn: number, sku: string, storeId: string): void => {
    tally.orders++;
    track(
      decide(turn, '/v1/reservations', { sku, quantity: 1, storeId }, key()).then((answer) => {
        if (answer?.status !== 201) {
          tally.ordersRefused++;
          return;
        }
        tally.ordersHeld++;
        const id = answer.body.id;
        // Picked up a few seconds later, most of the time, at another node; the rest expire.
        if (random() < 0.8 && id !== undefined) {
          const confirmKey = key();
          setTimeout(() => {
            if (!stopping) track(decide(turn + 1, `/v1/reservations/${id}/confirm`, {}, confirmKey));
          }, 3_000);
        }
      }),
    );
  };

  const tillOperation = (storeUrl: string, sku: string, r: number): void => {
    const [path, quantity] =
      r < 0.75 ? ['/v1/sales', 1 + Math.floor(random() * 2)] : r < 0.88 ? ['/v1/receipts', 5] : ['/v1/returns', 1];
    track(
      post(`${storeUrl}${path}`, { sku, quantity }, key()).then(
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
      ),
    );
  };

  const traffic = setInterval(() => {
    const turn = tick++;
    const store = pick(targets.stores);
    const sku = pick(targets.catalog);
    if (store === undefined || sku === undefined) return;
    // A storefront read at each tick, outside the seeded stream so the operations stay those of the seed.
    tally.reads++;
    track(
      read(hub(turn), sku)
        // A node that does not answer: the next one, as a storefront given every node would.
        .catch(() => read(hub(turn + 1), sku))
        .then(
          (status) => {
            if (status !== 200) tally.readsFailed++;
          },
          () => tally.readsFailed++,
        ),
    );
    const r = random();
    if (r < 0.15) order(turn, sku, store.id);
    else tillOperation(store.url, sku, r);
  }, 1000 / perSecond);

  return {
    tally,
    stop: async () => {
      stopping = true;
      clearInterval(traffic);
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}

/**
 * POSTs to the hub nodes in turn, from `turn`, with one Idempotency-Key, while
 * the answer says to ask again (503: the SKU's shard is moving) or a node does
 * not answer, as a client of a cluster must; null if undecided in time.
 */
async function postUntilDecided(
  hubUrls: readonly string[],
  turn: number,
  path: string,
  body: unknown,
  key: string,
  headers: Record<string, string>,
  hooks: { onRetry(): void; giveUp(): boolean },
): Promise<Answer | null> {
  const until = Date.now() + ORDER_RETRY_MS;
  for (let attempt = 0; ; attempt++) {
    const url = hubUrls[(turn + attempt) % hubUrls.length] ?? '';
    const answer = await post(`${url}${path}`, body, key, headers).catch(() => null);
    if (answer !== null && answer.status !== 503) return answer;
    if (Date.now() > until || hooks.giveUp()) return null;
    hooks.onRetry();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function read(hubUrl: string, sku: string): Promise<number> {
  const res = await fetch(`${hubUrl}/v1/skus/${sku}`);
  await res.arrayBuffer();
  return res.status;
}

async function post(url: string, body: unknown, key: string, headers: Record<string, string> = {}): Promise<Answer> {
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
