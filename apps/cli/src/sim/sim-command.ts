import type { Violation } from '@shelfsync/checker';
import { findPostgresBinDir, postgresBinDirCandidates } from '@shelfsync/storage-pg/testing';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import {
  CLUSTER_SCENARIOS,
  FaultScheduleFileSchema,
  HUB_NODE_NAMES,
  SCENARIOS,
  needsCluster,
  isScenarioName,
  scenarioDescriptions,
  scenarioSchedule,
  type FaultStep,
} from './scenarios.js';
import { runSimulation, type SimReport } from './simulator.js';

export const SimOptionsSchema = z.object({
  scenario: z.string().min(1).default('single-store-offline'),
  seed: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(1),
  stores: z.coerce.number().int().min(1).max(16).default(3),
  duration: z.coerce.number().min(2).max(3_600).default(30),
  rate: z.coerce.number().positive().max(500).default(20),
  skus: z.coerce.number().int().min(1).max(100).default(5),
  overrideCap: z.coerce.number().int().min(0).max(1_000).default(0),
  dataDir: z.string().min(1).optional(),
  report: z.string().min(1).optional(),
  /** Three hub nodes on PostgreSQL; implied by the cluster scenarios and by a schedule with hub node steps. */
  cluster: z.boolean().default(false),
});
export type SimCommandOptions = z.infer<typeof SimOptionsSchema>;

/** A failure of the command's input, worded for the person who typed it. */
export class SimInputError extends Error {
  override readonly name = 'SimInputError';
}

/** Resolves --scenario: a name, or a JSON file of fault steps (checked against the stores it names). */
export function resolveSchedule(options: SimCommandOptions): { name: string; description: string; steps: FaultStep[] } {
  const durationMs = Math.round(options.duration * 1000);
  if (isScenarioName(options.scenario)) {
    return {
      name: options.scenario,
      description: scenarioDescriptions[options.scenario],
      steps: scenarioSchedule(options.scenario, { stores: options.stores, durationMs, seed: options.seed }),
    };
  }
  if (!options.scenario.endsWith('.json')) {
    throw new SimInputError(`unknown scenario "${options.scenario}": one of ${SCENARIOS.join(', ')}, or a .json file`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(options.scenario, 'utf8'));
  } catch (error) {
    throw new SimInputError(
      `cannot read ${options.scenario}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const parsed = FaultScheduleFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SimInputError(
      `${options.scenario}: ${issue === undefined ? 'invalid' : `${issue.path.join('.') || '(root)'}: ${issue.message}`}`,
    );
  }
  for (const step of parsed.data.steps) {
    if ('node' in step && step.node >= HUB_NODE_NAMES.length) {
      throw new SimInputError(
        `${options.scenario}: a step names hub node ${step.node}, but the cluster has ${HUB_NODE_NAMES.length}`,
      );
    }
    if ('store' in step && step.store >= options.stores) {
      throw new SimInputError(
        `${options.scenario}: a step names store ${step.store}, but --stores is ${options.stores}`,
      );
    }
    if (step.atMs > durationMs) {
      throw new SimInputError(
        `${options.scenario}: a step at ${step.atMs} ms is after the run's end (${durationMs} ms)`,
      );
    }
  }
  return {
    name: options.scenario,
    description: parsed.data.description ?? 'fault schedule from a file',
    steps: parsed.data.steps,
  };
}

/** Whether the run needs three hub nodes on PostgreSQL: asked for, a cluster scenario, or hub node steps in a file. */
export function clusterMode(options: SimCommandOptions, steps: readonly FaultStep[]): boolean {
  return (
    options.cluster ||
    (isScenarioName(options.scenario) && CLUSTER_SCENARIOS.includes(options.scenario)) ||
    needsCluster(steps)
  );
}

/** The cluster mode starts a PostgreSQL server of its own: without one installed, the run stops before anything starts. */
export function requirePostgres(scenario: string, candidates: readonly string[] = postgresBinDirCandidates()): void {
  try {
    findPostgresBinDir(candidates);
  } catch {
    throw new SimInputError(
      `${scenario} in cluster mode runs three hub nodes on a PostgreSQL server of its own, and PostgreSQL is not installed ` +
        '(no initdb and postgres under `pg_config --bindir`, /usr/lib/postgresql/*/bin or PATH): ' +
        'install it (Debian: apt-get install postgresql) and run again',
    );
  }
}

/** `shelfsync sim`: runs, prints a verdict, writes the JSON report; exit code 1 on any violation. */
export async function runSimCommand(options: SimCommandOptions): Promise<number> {
  const schedule = resolveSchedule(options);
  const cluster = clusterMode(options, schedule.steps);
  if (cluster) requirePostgres(schedule.name);
  const dataDir = resolve(
    options.dataDir ??
      join('.data', 'sim', `${schedule.name.replace(/[^a-z0-9-]/gi, '_')}-${options.seed}-${Date.now()}`),
  );
  const reportPath = resolve(options.report ?? join(dataDir, 'report.json'));
  const tty = process.stderr.isTTY;
  const progress = (line: string): void => {
    if (tty) process.stderr.write(`\r\x1b[2K${line}`);
    else process.stderr.write(`${line}\n`);
  };
  process.stderr.write(
    `shelfsync sim: ${schedule.name} (${schedule.description}), seed ${options.seed}, ${options.stores} stores${cluster ? `, ${HUB_NODE_NAMES.length} hub nodes on PostgreSQL` : ''}, ${options.duration} s at ${options.rate} ops/s\n`,
  );
  const stopOnSignal = stopProcessesOnSignal();
  const report = await runSimulation({
    scenario: schedule.name,
    description: schedule.description,
    schedule: schedule.steps,
    seed: options.seed,
    stores: options.stores,
    durationMs: Math.round(options.duration * 1000),
    rate: options.rate,
    skus: options.skus,
    overrideCap: options.overrideCap,
    dataDir,
    cluster,
    progress: (line) => progress(line),
    started: stopOnSignal,
  });
  if (tty) process.stderr.write('\n');
  writeFileSync(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${formatVerdict(report, reportPath, options)}\n`);
  return report.verdict.ok ? 0 : 1;
}

/**
 * Ctrl-C or SIGTERM stops every process the run started (stores, hub or
 * nodes, PostgreSQL) before the simulator exits, instead of leaving them running.
 */
function stopProcessesOnSignal(): (stop: () => Promise<void>) => void {
  let stop: (() => Promise<void>) | undefined;
  const handler = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\nshelfsync sim: ${signal}, stopping the processes\n`);
    const stopping = stop?.() ?? Promise.resolve();
    void stopping.catch(() => undefined).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return (stopAll) => {
    stop = stopAll;
  };
}

// Keyed by the checker's names: a check added there does not compile until it is listed here.
const CHECK_NAMES: Readonly<Record<Violation['check'], true>> = {
  'no-oversell': true,
  conservation: true,
  convergence: true,
  'exactly-once': true,
  history: true,
  'own-stock-refusal': true,
};
const CHECKS = Object.keys(CHECK_NAMES) as Violation['check'][];

/** The human-readable verdict. */
export function formatVerdict(report: SimReport, reportPath: string, options: SimCommandOptions): string {
  const totals = { ok: 0, fail: 0, unknown: 0 };
  for (const [kind, k] of Object.entries(report.operations.byKind)) {
    // Expiries are the hub's doing, not operations anyone invoked.
    if (kind === 'expire') continue;
    totals.ok += k.ok;
    totals.fail += k.fail;
    totals.unknown += k.unknown;
  }
  const kinds = Object.entries(report.operations.byKind)
    .map(([kind, k]) => `${kind} ${k.ok}/${k.ok + k.fail + k.unknown}`)
    .join(', ');
  const faults = report.faults
    .map(
      ({ atMs, step }) =>
        `${step.fault}${'store' in step ? ` store #${step.store}` : ''} at ${(atMs / 1000).toFixed(1)} s`,
    )
    .join('; ');
  const failed = new Set(report.verdict.violations.map((v) => v.check));
  const { refusals, ownStockRefusals, salesWhileCut, onlineOrders } = report.service;
  const causes = Object.entries(refusals)
    .map(([cause, n]) => `${cause} ${n}`)
    .join(', ');
  const lines = [
    `operations: ${report.operations.invoked} (ok ${totals.ok}, refused or failed ${totals.fail}, still unknown ${totals.unknown}; ${report.operations.retried} unanswered during the run were retried under their keys, ${report.operations.retriedReplayed} of them already applied; ${report.operations.byKind.expire?.ok ?? 0} reservations expired)`,
    `  ok/attempted by kind: ${kinds}`,
    ...(options.overrideCap > 0
      ? [
          `  manager override: ${report.operations.overriddenUnits} units sold beyond rights (cap ${options.overrideCap} per store and SKU)`,
        ]
      : []),
    `  sales and ship-outs refused, by cause: ${causes}; refused while the location held the units: ${ownStockRefusals}`,
    `  served: in-store sales while cut off from the hub ${salesWhileCut.served}/${salesWhileCut.attempted}, online orders ${onlineOrders.served}/${onlineOrders.attempted}`,
    `faults: ${report.faults.length === 0 ? 'none' : faults}`,
    `checks: ${CHECKS.map((c) => `${c} ${failed.has(c) ? 'FAIL' : 'ok'}`).join(', ')}`,
    ...report.verdict.violations
      .slice(0, 20)
      .map((v) => `  violation (${v.check}${v.sku === undefined ? '' : `, ${v.sku}`}): ${v.detail}`),
    `verdict: ${report.verdict.ok ? 'PASS' : 'FAIL'}   report: ${reportPath}`,
    `replay: npm run shelfsync -- sim --scenario ${options.scenario} --seed ${options.seed} --stores ${options.stores} --duration ${options.duration} --rate ${options.rate} --skus ${options.skus}${options.overrideCap > 0 ? ` --override-cap ${options.overrideCap}` : ''}${options.cluster ? ' --cluster' : ''}`,
  ];
  return lines.join('\n');
}
