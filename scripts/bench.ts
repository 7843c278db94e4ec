/**
 * Runs a benchmark suite and writes its table into docs/benchmarks.md, between
 * that suite's markers, with the command and the machine that produced it.
 * Usage: pnpm bench <suite>   (suites: core, sync, storage, escrow, api, compare, policy, fuzz, wire, cluster, failover, cluster-nodes)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMachineFloorBench } from '../apps/cli/bench/machine-floor-bench.js';
import { runPropagationBench } from '../apps/cli/bench/propagation-bench.js';
import { runCoreBench, type BenchRow } from '../packages/core/bench/core-bench.js';
import { runSyncBench } from '../packages/sync/bench/sync-bench.js';
import { runDurableAckBench } from '../apps/cli/bench/durable-ack-bench.js';
import { runStorageAdapterBench } from '../packages/storage-sqljs/bench/storage-bench.js';
import { runHubMemoryBench } from '../apps/hub/bench/hub-memory-bench.js';
import { runCommitBench } from '../apps/hub/bench/commit-bench.js';
import { runEscrowBench } from '../apps/cli/bench/escrow-bench.js';
import { runApiBench } from '../apps/cli/bench/api-bench.js';
import { comparisonChart, comparisonTable, runComparison } from '../apps/cli/bench/compare-bench.js';
import { runPolicySweep } from '../apps/cli/bench/compare/policy-sweep.js';
import { runFuzzSoak } from '../apps/cli/bench/fuzz-bench.js';
import { runWireBench } from '../apps/cli/bench/wire-bench.js';
import { runFailoverBench } from '../apps/cli/bench/failover-bench.js';
import { runClusterNodesBench } from '../apps/cli/bench/cluster-nodes-bench.js';

/** A suite answers rows for the standard table, or a table of its own. */
type SuiteResult = BenchRow[] | { readonly markdown: string };

const suites: Record<string, () => SuiteResult | Promise<SuiteResult>> = {
  compare: async () => {
    const run = await runComparison();
    // The chart sits next to the table in docs/benchmarks.md.
    writeFileSync(
      join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'images', 'compare.svg'),
      comparisonChart(run),
    );
    return { markdown: `${comparisonTable(run)}\n\n![What partitions cost each system](images/compare.svg)` };
  },
  // The escrow policy's trade-off between the channels, shelfsync alone over several seeds.
  policy: async () => ({ markdown: await runPolicySweep() }),
  core: runCoreBench,
  escrow: () => runEscrowBench(),
  api: () => runApiBench(),
  // A million raw-TCP inputs against one hub and store, bounded to 40 minutes of sending.
  fuzz: () =>
    runFuzzSoak({
      seed: Number(process.env.SHELFSYNC_FUZZ_SEED ?? 20_261_130),
      inputs: Number(process.env.SHELFSYNC_FUZZ_INPUTS ?? 1_000_000),
      concurrency: 48,
      maxMs: 40 * 60_000,
    }),
  storage: async () => [...(await runDurableAckBench()), ...(await runStorageAdapterBench()), ...runHubMemoryBench()],
  sync: async () => [
    ...(await runSyncBench()),
    // The load the store/hub work asks for, then lighter ones that show where the cost lies.
    await runPropagationBench({ stores: 20, salesPerSecond: 50, seconds: 10 }),
    await runPropagationBench({ stores: 20, salesPerSecond: 5, seconds: 10 }),
    await runPropagationBench({ stores: 5, salesPerSecond: 50, seconds: 10 }),
    // What the machine charges for the transport alone at the first row's load.
    await runMachineFloorBench({ clients: 20, messagesPerSecond: 50, seconds: 10 }),
  ],
  // Bytes per sale on every store link as the number of stores holding the SKU grows.
  wire: () => runWireBench(),
  // The hub on PostgreSQL: what a commit costs there against the embedded journal.
  cluster: () => runCommitBench(),
  // kill -9 of a hub node's process to its SKUs served again, over 20 kills.
  failover: () => runFailoverBench(),
  // Merges and storefront reads on one hub process and on three.
  'cluster-nodes': () => runClusterNodesBench(),
};

const name = process.argv[2] ?? 'core';
const suite = suites[name];
if (suite === undefined) {
  console.error(`unknown suite "${name}"; known: ${Object.keys(suites).join(', ')}`);
  process.exit(2);
}

const result = await suite();
const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}`;
const table = [
  `Command: \`pnpm bench ${name}\` — ${new Date().toISOString().slice(0, 10)}, ${machine}`,
  '',
  ...('markdown' in result
    ? [result.markdown]
    : [
        '| measure | result | note |',
        '| --- | --- | --- |',
        ...result.map((r) => `| ${r.name} | ${r.value} | ${r.note} |`),
      ]),
].join('\n');
console.log(table);

const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'benchmarks.md');
const start = `<!-- bench:${name}:start -->`;
const end = `<!-- bench:${name}:end -->`;
const doc = readFileSync(file, 'utf8');
const from = doc.indexOf(start);
const to = doc.indexOf(end);
if (from < 0 || to < from) {
  console.error(`docs/benchmarks.md has no ${start} ... ${end} section`);
  process.exit(1);
}
writeFileSync(file, `${doc.slice(0, from + start.length)}\n${table}\n${doc.slice(to)}`);
console.log(`\nwrote docs/benchmarks.md (${name})`);
