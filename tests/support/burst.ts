import { post } from './cluster.js';

/** Sales running at some stores until stopped, one at a time per store, and how many each store accepted. */
export interface Burst {
  /** Sales each store answered 201, by its id. */
  readonly sold: ReadonlyMap<string, number>;
  /** Sales accepted at every store together. */
  total(): number;
  /** Stops selling and resolves once every sale in flight has its answer. */
  stop(): Promise<void>;
}

/**
 * Sells one unit of each target's SKU at its store, again and again, each sale
 * with an idempotency key of its own (`<prefix>-<id>-<n>`), until `stop`.
 */
export function startBurst(targets: readonly { id: string; url: string; sku: string }[], prefix: string): Burst {
  const sold = new Map(targets.map(({ id }) => [id, 0]));
  let stopped = false;
  const running = targets.map(async ({ id, url, sku }) => {
    for (let i = 0; !stopped; i++) {
      const res = await post(url, '/v1/sales', { sku, quantity: 1 }, `${prefix}-${id}-${i}`);
      if (res.status === 201) sold.set(id, (sold.get(id) ?? 0) + 1);
    }
  });
  return {
    sold,
    total: () => [...sold.values()].reduce((a, b) => a + b, 0),
    stop: async () => {
      stopped = true;
      await Promise.all(running);
    },
  };
}
