import { replicaAgrees, type FinalSku } from '../packages/checker/src/index.js';
import { CLI_ENTRY } from '@shelfsync/cli';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `shelfsync sim ...` as a child process, to its end. */
function sim(args: readonly string[]): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, 'sim', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Warnings too (a refused update, a closed session), so a failed run says what the processes saw.
    env: { ...process.env, SHELFSYNC_LOG_LEVEL: 'warn' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

/** What a failed run shows: the sim's own lines and the processes' warnings, the last 40 of them. */
function diagnose(stderr: string): string {
  const lines = stderr.split('\n').filter((line) => !line.startsWith('{') || !line.includes('"level":30'));
  return lines.slice(-40).join('\n').slice(-6000);
}

interface Report {
  scenario: string;
  seed: number;
  faults: { atMs: number; step: { fault: string } }[];
  operations: {
    invoked: number;
    retried: number;
    byKind: Record<string, { ok: number; fail: number; unknown: number }>;
  };
  service: {
    refusals: Record<string, number>;
    ownStockRefusals: number;
    salesWhileCut: { attempted: number; served: number };
    onlineOrders: { attempted: number; served: number };
  };
  converged: boolean;
  verdict: { ok: boolean; violations: { check: string }[]; refusals: Record<string, number> };
  replicas: Record<string, Record<string, FinalSku>>;
  history: { id: string; phase: string }[];
}

const CAUSES = ['location_empty', 'hub_unreachable', 'online_escrow', 'topup_timeout', 'other'];

/** The service figures hold together: refusals by cause are the failed sales and ship-outs, served never exceeds asked. */
function expectSaneService(r: Report): void {
  expect(r.verdict.violations.filter((v) => v.check === 'own-stock-refusal')).toEqual([]);
  expect(r.service.ownStockRefusals).toBe(0);
  expect(Object.keys(r.service.refusals).sort()).toEqual([...CAUSES].sort());
  expect(r.service.refusals).toEqual(r.verdict.refusals);
  const refused = Object.values(r.service.refusals).reduce((a, b) => a + b, 0);
  expect(refused).toBe((r.operations.byKind.sell?.fail ?? 0) + (r.operations.byKind.shipOut?.fail ?? 0));
  const { salesWhileCut, onlineOrders } = r.service;
  expect(salesWhileCut.served).toBeGreaterThanOrEqual(0);
  expect(salesWhileCut.served).toBeLessThanOrEqual(salesWhileCut.attempted);
  expect(salesWhileCut.attempted).toBeLessThanOrEqual(r.operations.invoked);
  const reserve = r.operations.byKind.reserve ?? { ok: 0, fail: 0, unknown: 0 };
  expect(onlineOrders).toEqual({ attempted: reserve.ok + reserve.fail + reserve.unknown, served: reserve.ok });
}

describe('shelfsync sim (real processes behind fault proxies)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsync-sim-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('crash-restart with the manager override: stores and the hub killed with -9 and restarted; the checker passes and the report holds the run', async () => {
    const report = join(dir, 'crash.json');
    const run = await sim([
      ...['--scenario', 'crash-restart', '--seed', '3', '--duration', '8', '--rate', '20', '--skus', '3'],
      // The manager override on too: the checker then allows each store at most 2 units owed.
      ...['--override-cap', '2'],
      ...['--data', join(dir, 'crash'), '--report', report],
    ]);
    expect(run.stderr).toContain('faults:');
    expect(run.stdout, diagnose(run.stderr)).toContain('verdict: PASS');
    expect(run.stdout).toContain('replay: npm run shelfsync -- sim --scenario crash-restart --seed 3');
    expect(run.stdout).toContain('--override-cap 2');
    // No sale refused while the store's own location held the units, and the report says how refusals fell.
    expect(run.stdout).toContain('own-stock-refusal ok');
    expect(run.stdout).toContain('sales and ship-outs refused, by cause: location_empty ');
    expect(run.stdout).toContain('served: in-store sales while cut off from the hub ');
    expect(run.code).toBe(0);
    const r = JSON.parse(readFileSync(report, 'utf8')) as Report;
    expect(r).toMatchObject({
      scenario: 'crash-restart',
      seed: 3,
      converged: true,
      verdict: { ok: true, violations: [] },
    });
    expect(r.faults.map((f) => f.step.fault)).toEqual([
      'kill-store',
      'restart-store',
      'kill-store',
      'restart-store',
      'kill-hub',
      'restart-hub',
    ]);
    expect(r.operations.byKind.sell?.ok).toBeGreaterThan(20);
    // Each kill -9 lands in a burst of requests: those left unanswered were retried under their keys, exactly once.
    expect(r.operations.retried).toBeGreaterThan(0);
    expect(r.operations.byKind.reserve?.ok).toBeGreaterThan(0);
    // Each store holds its share and agrees with the hub on its location's accounts, SKU by SKU.
    const { hub = {}, ...stores } = r.replicas;
    expect(Object.keys(r.replicas)).toEqual(['hub', 'store-1', 'store-2', 'store-3']);
    for (const [id, skus] of Object.entries(stores)) {
      expect(Object.keys(skus).sort(), id).toEqual(Object.keys(hub).sort());
      for (const [sku, final] of Object.entries(skus)) {
        expect(final.share, `${sku} at ${id}`).toBe(id);
        expect(replicaAgrees(hub[sku], final), `${sku} at ${id}`).toBe(true);
      }
    }
    // A history, Jepsen style: an invoke and an end per operation.
    const invokes = r.history.filter((e) => e.phase === 'invoke').length;
    expect(invokes).toBe(r.operations.invoked);
    expectSaneService(r);
  }, 120_000);

  it('a schedule from a JSON file runs as given; a bad one is refused before anything starts', async () => {
    const file = join(dir, 'schedule.json');
    writeFileSync(
      file,
      JSON.stringify({
        description: 'store 2 cut, the hub lags',
        steps: [
          { atMs: 1000, fault: 'reset', store: 1 },
          { atMs: 1500, fault: 'degrade', store: 0, latencyMs: 50, jitterMs: 20 },
          { atMs: 4000, fault: 'restore', store: 1 },
          { atMs: 4500, fault: 'restore', store: 0 },
        ],
      }),
    );
    const run = await sim([
      '--scenario',
      file,
      '--stores',
      '2',
      '--duration',
      '6',
      '--skus',
      '2',
      '--data',
      join(dir, 'file'),
    ]);
    expect(run.stdout, diagnose(run.stderr)).toContain('verdict: PASS');
    expect(run.code).toBe(0);
    const r = JSON.parse(readFileSync(join(dir, 'file', 'report.json'), 'utf8')) as Report;
    expectSaneService(r);
    // Store 2 is cut for half the run: it keeps selling from the rights it holds.
    expect(r.service.salesWhileCut.attempted).toBeGreaterThan(0);
    expect(r.service.salesWhileCut.served).toBeGreaterThan(0);

    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ steps: [{ atMs: 1000, fault: 'reset', store: 5 }] }));
    const refused = await sim(['--scenario', bad, '--stores', '2', '--duration', '6']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('names store 5, but --stores is 2');
    const unknown = await sim(['--scenario', 'meteor-strike']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown scenario "meteor-strike"');
  }, 120_000);
});
