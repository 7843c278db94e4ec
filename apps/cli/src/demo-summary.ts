import type { DemoTargets, Tally } from './demo-traffic.js';
import { metricSum } from './prometheus.js';

/** The stores' own counts of how sales went and why any were refused, from their /metrics. */
interface StoreCounts {
  readonly local: number;
  readonly toppedUp: number;
  readonly causes: Readonly<Record<string, number>>;
}

const CAUSES = ['location_empty', 'hub_unreachable', 'online_escrow', 'topup_timeout'] as const;

/** Sums the stores' sales counters; null when a store does not answer (it is stopping, or was stopped). */
export async function readStoreCounts(targets: DemoTargets): Promise<StoreCounts | null> {
  let local = 0;
  let toppedUp = 0;
  const causes: Record<string, number> = Object.fromEntries(CAUSES.map((cause) => [cause, 0]));
  try {
    for (const store of targets.stores) {
      const text = await (await fetch(`${store.url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
      local += metricSum(text, 'shelfsync_sales_total', { outcome: 'local' });
      toppedUp += metricSum(text, 'shelfsync_sales_total', { outcome: 'topped_up' });
      for (const cause of CAUSES) {
        causes[cause] = (causes[cause] ?? 0) + metricSum(text, 'shelfsync_sales_refused_total', { cause });
      }
    }
  } catch {
    return null;
  }
  return { local, toppedUp, causes };
}

const causesText = (counts: StoreCounts): string =>
  Object.entries(counts.causes)
    .map(([cause, count]) => `${cause} ${count}`)
    .join(', ');

/** One status line: the clients' tally, and the stores' own counts. */
export async function statusLine(targets: DemoTargets, tally: Tally): Promise<string> {
  const counts = await readStoreCounts(targets);
  if (counts === null) return `operations ok ${tally.ok}, refused ${tally.refused}; a store did not answer`;
  return `sales: ${counts.local} from the till's rights, ${counts.toppedUp} topped up; refused: ${causesText(counts)}; refused while a connected store's location had the units: ${tally.refusedWithOwnStock} | online orders ${tally.ordersHeld} of ${tally.orders} held | reads ${tally.reads - tally.readsFailed} of ${tally.reads} | operations ok ${tally.ok}, refused ${tally.refused}`;
}

/** Prints a status line every 5 s; `stop` ends it. */
export function startStatusReports(targets: DemoTargets, tally: Tally): { stop(): void } {
  const timer = setInterval(() => {
    void statusLine(targets, tally).then((line) => process.stdout.write(`${line}\n`));
  }, 5_000);
  return { stop: () => clearInterval(timer) };
}

/**
 * The end-of-run summary, one figure a line (`name: value`), so a reader and a
 * test both find them: the stores' counts when they still answer, else only the
 * clients' (after Ctrl-C the terminal has signalled every process at once).
 */
export async function summaryLines(targets: DemoTargets, tally: Tally, seconds: number): Promise<string[]> {
  const counts = await readStoreCounts(targets);
  return [
    `demo summary after ${seconds.toFixed(0)} s:`,
    counts === null
      ? `  sales made: (the stores had stopped; ${tally.ok} till operations acknowledged)`
      : `  sales made: ${counts.local + counts.toppedUp} (${counts.local} from the till's rights, ${counts.toppedUp} topped up)`,
    ...(counts === null ? [] : [`  sales refused: ${causesText(counts)}`]),
    `  refused while a connected store's location had the units: ${tally.refusedWithOwnStock}`,
    `  online orders held: ${tally.ordersHeld} of ${tally.orders}`,
    `  storefront reads answered: ${tally.reads - tally.readsFailed} of ${tally.reads}`,
    `  requests retried (503 or node down): ${tally.retries}`,
    `  till operations: ${tally.ok} ok, ${tally.refused} refused`,
  ];
}
