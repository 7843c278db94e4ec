import type { FuzzTargets, WatchedProcess } from './targets.js';

/** The checks between batches: both processes live and serve, and an honest sale still reaches the hub in time. */

/** How long an honest sale may take from the store's answer to the hub's document. */
export const SALE_BUDGET_MS = 1_000;

export class CheckFailure extends Error {
  override readonly name = 'CheckFailure';
}

async function request(url: string, init: RequestInit = {}): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: await response.text() };
}

function assertAlive(process: WatchedProcess): void {
  if (!process.alive) {
    throw new CheckFailure(
      `${process.name} exited (${JSON.stringify(process.exit)}); its last log lines:\n${process.tail()}`,
    );
  }
}

/** Every well-formed request here must be answered below 500. */
async function wellFormed(url: string, init: RequestInit = {}): Promise<{ status: number; body: string }> {
  let answer: { status: number; body: string };
  try {
    answer = await request(url, init);
  } catch (error) {
    throw new CheckFailure(`${init.method ?? 'GET'} ${url} got no answer: ${String(error)}`);
  }
  if (answer.status >= 500)
    throw new CheckFailure(`${init.method ?? 'GET'} ${url} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
  return answer;
}

/** The hub's count of units on the shelf at the honest store, or null before the hub knows the SKU. */
async function hubOnShelf(targets: FuzzTargets): Promise<number | null> {
  const { status, body } = await wellFormed(`${targets.hub.url}/v1/skus/${targets.honest.sku}`);
  if (status !== 200) return null;
  const stock = JSON.parse(body) as { locations?: { location: string; onShelf: number }[] };
  return stock.locations?.find((l) => l.location === targets.honest.storeId)?.onShelf ?? null;
}

async function waitForHub(targets: FuzzTargets, expected: number, budgetMs: number): Promise<number> {
  const from = performance.now();
  for (;;) {
    const seen = await hubOnShelf(targets);
    const ms = performance.now() - from;
    if (seen === expected) return ms;
    if (ms > budgetMs)
      throw new CheckFailure(
        `the hub shows ${String(seen)} on the shelf at the honest store, not ${expected}, ${Math.round(ms)} ms after the sale`,
      );
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Units the honest store receives before the run; each batch sells one. */
export const HONEST_STOCK = 1_000_000;

/** Stocks the honest store and waits until the hub shows it. */
export async function stockHonestStore(targets: FuzzTargets): Promise<void> {
  const receipt = await wellFormed(`${targets.store.url}/v1/receipts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': 'wire-fuzz-stock' },
    body: JSON.stringify({ sku: targets.honest.sku, quantity: HONEST_STOCK }),
  });
  if (receipt.status !== 201)
    throw new CheckFailure(`the honest store refused its receipt: ${receipt.status} ${receipt.body}`);
  await waitForHub(targets, HONEST_STOCK, 30_000);
}

/**
 * Runs the checks after batch `batch`; throws CheckFailure naming what failed.
 * Returns how long the honest sale took to reach the hub.
 */
export async function checkTargets(targets: FuzzTargets, batch: number, salesSoFar: number): Promise<number> {
  assertAlive(targets.hub);
  assertAlive(targets.store);
  for (const process of [targets.hub, targets.store]) {
    const health = await wellFormed(`${process.url}/healthz`);
    if (health.status !== 200) throw new CheckFailure(`${process.name} /healthz answered ${health.status}`);
  }
  await wellFormed(`${targets.hub.url}/readyz`);
  await wellFormed(`${targets.hub.url}/v1/stores`);
  await wellFormed(`${targets.store.url}/v1/status`);
  await wellFormed(`${targets.store.url}/v1/skus/${targets.honest.sku}`);
  const sale = await wellFormed(`${targets.store.url}/v1/sales`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': `wire-fuzz-sale-${batch}` },
    body: JSON.stringify({ sku: targets.honest.sku, quantity: 1 }),
  });
  if (sale.status !== 201) throw new CheckFailure(`the honest store refused a sale: ${sale.status} ${sale.body}`);
  const ms = await waitForHub(targets, HONEST_STOCK - salesSoFar - 1, SALE_BUDGET_MS);
  assertAlive(targets.hub);
  assertAlive(targets.store);
  return ms;
}
