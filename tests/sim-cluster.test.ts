import { replicaAgrees, type FinalSku } from '../packages/checker/src/index.js';
import { CLI_ENTRY } from '@shelfsync/cli';
import { skipPgTests } from '@shelfsync/storage-pg/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Report {
  scenario: string;
  faults: { atMs: number; step: { fault: string; node?: number } }[];
  operations: { retried: number; byKind: Record<string, { ok: number; fail: number; unknown: number }> };
  cluster?: { nodes: string[]; takeovers: { node: string; fault: string; movedAfterMs: number | null }[] };
  converged: boolean;
  verdict: { ok: boolean; violations: { check: string }[] };
  replicas: Record<string, Record<string, FinalSku>>;
}

/**
 * The cluster scenarios of `shelfsync sim`, short: three hub nodes on a
 * PostgreSQL server the run starts, stores that know every node, nodes killed
 * or cut from the database, and the checker's verdict over the history.
 */
describe.skipIf(skipPgTests())('shelfsync sim against three hub nodes on PostgreSQL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsync-sim-cluster-'));
  const running = new Set<ChildProcess>();
  // A run that outlives its test (a timeout) is stopped: SIGTERM makes the simulator stop every process it started.
  afterEach(async () => {
    await Promise.all(
      [...running].map(async (child) => {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** `shelfsync sim ...` as a child process, to its end. */
  function sim(args: readonly string[]): Promise<Run> {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, 'sim', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SHELFSYNC_LOG_LEVEL: 'warn' },
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    return new Promise((resolve) =>
      child.once('exit', (code) => {
        running.delete(child);
        resolve({ code, stdout, stderr });
      }),
    );
  }

  /** Runs a scenario; expects a pass, and every hub node and store agreeing on every SKU. */
  async function passes(scenario: string, seed: number, duration: number): Promise<Report> {
    const report = join(dir, `${scenario}.json`);
    const run = await sim([
      ...['--scenario', scenario, '--seed', String(seed), '--duration', String(duration)],
      ...['--rate', '20', '--skus', '3', '--data', join(dir, scenario), '--report', report],
    ]);
    const warnings = run.stderr.split('\n').filter((line) => !line.includes('"level":30'));
    expect(run.stdout, warnings.slice(-40).join('\n').slice(-6000)).toContain('verdict: PASS');
    expect(run.stderr).toContain('3 hub nodes on PostgreSQL');
    expect(run.code).toBe(0);
    const r = JSON.parse(readFileSync(report, 'utf8')) as Report;
    expect(r).toMatchObject({ scenario, converged: true, verdict: { ok: true, violations: [] } });
    expect(r.cluster?.nodes).toEqual(['hub-a', 'hub-b', 'hub-c']);
    expect(Object.keys(r.replicas)).toEqual(['hub-a', 'hub-b', 'hub-c', 'store-1', 'store-2', 'store-3']);
    const { 'hub-a': reference = {}, 'hub-b': b = {}, 'hub-c': c = {} } = r.replicas;
    for (const other of [b, c]) expect(other).toEqual(reference);
    for (const id of ['store-1', 'store-2', 'store-3']) {
      for (const [sku, final] of Object.entries(r.replicas[id] ?? {})) {
        expect(replicaAgrees(reference[sku], final), `${sku} at ${id}`).toBe(true);
      }
    }
    // Reservations went to every node, and some were made across the faults.
    expect(r.operations.byKind.reserve?.ok).toBeGreaterThan(0);
    return r;
  }

  it('hub-failover: two nodes killed with -9 and restarted in turn; nothing acknowledged is lost, no oversell, all replicas agree', async () => {
    const r = await passes('hub-failover', 2, 14);
    expect(r.faults.map((f) => [f.step.fault, f.step.node])).toEqual([
      ['kill-node', 2],
      ['restart-node', 2],
      ['kill-node', 0],
      ['restart-node', 0],
    ]);
    // Each kill lands in a burst of reservations asked of that node: the unanswered ones were retried under their keys.
    expect(r.operations.retried).toBeGreaterThan(0);
    expect(r.cluster?.takeovers.map((t) => [t.node, t.fault])).toEqual([
      ['c', 'kill-node'],
      ['a', 'kill-node'],
    ]);
  }, 90_000);

  it('db-partition: a node cut from PostgreSQL and reconnected; its shards move to the others, and the checker passes', async () => {
    const r = await passes('db-partition', 1, 14);
    expect(r.faults.map((f) => f.step)).toEqual([
      { atMs: expect.any(Number) as number, fault: 'cut-db', node: 1, mode: 'hold' },
      { atMs: expect.any(Number) as number, fault: 'restore-db', node: 1 },
    ]);
    expect(r.cluster?.takeovers.map((t) => [t.node, t.fault])).toEqual([['b', 'cut-db']]);
  }, 90_000);
});
