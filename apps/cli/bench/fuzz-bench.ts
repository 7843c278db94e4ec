import { failureText, runCampaign, summaryText } from './wire-fuzz/campaign.js';
import { FUZZ_CLASSES } from './wire-fuzz/input.js';
import { startFuzzTargets } from './wire-fuzz/targets.js';

export interface BenchRow {
  readonly name: string;
  readonly value: string;
  readonly note: string;
}

export interface FuzzSoakOptions {
  readonly seed: number;
  readonly inputs: number;
  readonly concurrency: number;
  /** The soak stops starting batches after this long, whatever it has sent. */
  readonly maxMs: number;
}

const mib = (bytes: number | null): string => (bytes === null ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(0)} MiB`);

/**
 * The wire fuzz suite at soak size: the same generator, runner and checks as
 * tests/wire-fuzz.test.ts, against one hub and one store for the whole run, so
 * what leaks or grows under a million hostile connections shows.
 */
export async function runFuzzSoak(options: FuzzSoakOptions): Promise<BenchRow[]> {
  const targets = await startFuzzTargets();
  let hubPeak: number | null = null;
  let storePeak: number | null = null;
  try {
    const report = await runCampaign(targets, {
      seed: options.seed,
      inputs: options.inputs,
      batchSize: 2_000,
      concurrency: options.concurrency,
      timeoutMs: 1_000,
      maxMs: options.maxMs,
      onBatch: (r) => {
        hubPeak = targets.hub.peakRss() ?? hubPeak;
        storePeak = targets.store.peakRss() ?? storePeak;
        if (r.batches % 25 === 0) console.error(`  ${r.sent} inputs, ${Math.round(r.elapsedMs / 1000)} s`);
      },
    });
    console.error(summaryText(report, targets));
    if (report.failure !== null) console.error(failureText(report));
    const wellFormed = FUZZ_CLASSES.reduce((n, cls) => n + report.byClass[cls].wellFormed, 0);
    const timedOut = FUZZ_CLASSES.reduce((n, cls) => n + report.byClass[cls].timeouts, 0);
    return [
      {
        name: 'inputs sent',
        value: report.sent.toLocaleString('en-US'),
        note: `seed ${report.seed}, ${report.batches} batches of 2,000, ${options.concurrency} connections in flight${report.sent < options.inputs ? `; stopped at the ${Math.round(options.maxMs / 60_000)}-minute bound` : ''}`,
      },
      {
        name: 'inputs/s',
        value: String(Math.round(report.sent / (report.elapsedMs / 1000))),
        note: `${(report.elapsedMs / 1000).toFixed(0)} s in all, checks between batches included`,
      },
      ...FUZZ_CLASSES.map((cls) => {
        const s = report.byClass[cls];
        return {
          name: `inputs: ${cls}`,
          value: s.sent.toLocaleString('en-US'),
          note: `answers ${Object.entries(s.statuses)
            .sort()
            .map(([k, v]) => `${k} ${v}`)
            .join(
              ', ',
            )}${s.survived > 0 ? `; ${s.survived} frame sequences read to the end with the connection kept` : ''}; ${s.timeouts} left unanswered after 1 s`,
        };
      }),
      {
        name: 'processes alive',
        value:
          targets.hub.alive && targets.store.alive
            ? 'hub and store'
            : `hub ${targets.hub.alive ? 'alive' : 'DEAD'}, store ${targets.store.alive ? 'alive' : 'DEAD'}`,
        note:
          report.failure === null
            ? `every batch: /healthz, an honest sale at the hub within 1 s (slowest ${Math.round(report.maxSaleMs)} ms)`
            : `FAILED in batch ${report.failure.batch}: ${report.failure.reason.split('\n')[0] ?? ''}`,
      },
      {
        name: '5xx answers',
        value: `${report.wellFormed5xx.length} / ${Object.values(report.malformed5xxByKind).reduce((n, c) => n + c, 0)}`,
        note: `to the ${wellFormed.toLocaleString('en-US')} well-formed inputs / to malformed ones (${
          Object.entries(report.malformed5xxByKind)
            .map(([k, n]) => `${k}: ${n}`)
            .join(', ') || 'none'
        }); ${timedOut} inputs unanswered`,
      },
      { name: 'peak RSS, hub', value: mib(hubPeak), note: 'VmHWM of the hub process' },
      { name: 'peak RSS, store', value: mib(storePeak), note: 'VmHWM of the store process' },
      {
        name: 'hub log written',
        value: `${(targets.hub.stderrBytes / 1024 / 1024).toFixed(1)} MiB`,
        note: `stderr at the default level, ${(targets.hub.stderrBytes / Math.max(1, report.sent)).toFixed(0)} B per input`,
      },
    ];
  } finally {
    await targets.stop();
  }
}
