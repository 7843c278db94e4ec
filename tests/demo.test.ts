import { CLI_ENTRY, missingPostgres } from '@shelfsync/cli';
import { skipPgTests } from '@shelfsync/storage-pg/testing';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './support/ports.js';

/** `pid`'s parent and state from /proc; undefined once it is gone. A zombie holds nothing: it counts as gone. */
function procStat(pid: number): { ppid: number; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return state === 'Z' ? undefined : { ppid: Number(ppid), state: state ?? '' };
  } catch {
    return undefined;
  }
}

/** Every live process under `pid`, at any depth (the hubs, the stores, PostgreSQL and its backends). */
function descendantsOf(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    const stat = procStat(Number(entry));
    if (stat !== undefined) parents.set(Number(entry), stat.ppid);
  }
  const found: number[] = [];
  const walk = (parent: number): void => {
    for (const [child, ppid] of parents) {
      if (ppid !== parent) continue;
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

/**
 * Runs the demo for `--duration` seconds; resolves with its output and exit code, and the processes it
 * had started once it said it was running (to check none outlives it).
 */
async function runDemo(
  args: readonly string[],
  dir: string,
  withinMs: number,
): Promise<{ output: string; code: number | null; started: number[]; commands: number[]; survivors: number[] }> {
  const demo = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, 'demo', '--data', dir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SHELFSYNC_LOG_LEVEL: 'error' },
  });
  let output = '';
  let started: number[] = [];
  let commands: number[] = [];
  demo.stdout.setEncoding('utf8');
  demo.stderr.setEncoding('utf8');
  const onData = (chunk: string): void => {
    output += chunk;
    if (started.length === 0 && /demo is running/.test(output)) {
      started = descendantsOf(demo.pid ?? -1);
      commands = shelfsyncCommands(started);
    }
  };
  demo.stdout.on('data', onData);
  demo.stderr.on('data', onData);
  // A demo that does not end in time is killed with all it started, before the test's own timeout.
  const guard = setTimeout(() => {
    for (const pid of [...descendantsOf(demo.pid ?? -1), demo.pid ?? -1]) process.kill(pid, 'SIGKILL');
  }, withinMs);
  const code = await new Promise<number | null>((resolve) => demo.once('exit', resolve));
  clearTimeout(guard);
  // Once the demo has exited: what it started and is still running, killed here so a failed run leaves nothing.
  const survivors = started.filter((pid) => procStat(pid) !== undefined);
  for (const pid of survivors) process.kill(pid, 'SIGKILL');
  return { output, code, started, commands, survivors };
}

/** The shelfsync commands among `pids` (not tsx's esbuild service, nor PostgreSQL's processes). */
const shelfsyncCommands = (pids: readonly number[]): number[] =>
  pids.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(CLI_ENTRY);
    } catch {
      return false;
    }
  });

/** The number after `label` in the summary. */
function figure(output: string, label: string): number {
  const match = new RegExp(`${label}: (\\d+)`).exec(output);
  if (match?.[1] === undefined) throw new Error(`no "${label}" in the demo's output:\n${output}`);
  return Number(match[1]);
}

function expectSummary(output: string): void {
  expect(output).toContain('demo summary after');
  expect(figure(output, 'sales made')).toBeGreaterThan(0);
  expect(figure(output, 'online orders held')).toBeGreaterThan(0);
  expect(figure(output, "refused while a connected store's location had the units")).toBe(0);
}

describe.skipIf(process.platform !== 'linux')('the demo', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsync-demo-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs a hub and three stores for --duration, prints the summary, and leaves no process behind', async () => {
    const run = await runDemo(
      ['--port', String(await freePort()), '--duration', '12', '--rate', '8'],
      join(dir, 'one'),
      100_000,
    );
    expect(run.code, run.output).toBe(0);
    expect(run.commands).toHaveLength(4);
    expectSummary(run.output);
    expect(run.survivors).toEqual([]);
  }, 120_000);

  it('without PostgreSQL, --cluster says how to install it', () => {
    const hint = missingPostgres([]);
    expect(hint).toContain('sudo apt-get install postgresql');
    expect(hint).toContain('`postgres` system user');
  });

  it.skipIf(skipPgTests())(
    '--cluster: PostgreSQL, three hub nodes sharing the shards and the stores, a node killed and back, no process left',
    async () => {
      const run = await runDemo(
        ['--cluster', '--port', String(await freePort()), '--duration', '30', '--rate', '8', '--kill-node-at', '8'],
        join(dir, 'cluster'),
        160_000,
      );
      expect(run.code, run.output).toBe(0);
      // Three hubs and three stores; PostgreSQL and its backends besides.
      expect(run.commands).toHaveLength(6);
      expect(run.started.length).toBeGreaterThan(6);
      expectSummary(run.output);
      const summary = run.output.slice(run.output.indexOf('demo summary after'));
      expect(summary).toContain('cluster: 3 live nodes');
      // Each live node holds shards: the lines of the summary's view.
      const live = summary.split('\n').filter((line) => /^\s+node [abc] .* alive /.test(line));
      expect(live).toHaveLength(3);
      for (const line of live) expect(Number(/shards\s+(\d+)/.exec(line)?.[1])).toBeGreaterThan(0);
      const served = /its SKUs took reservations at the survivors again after ([\d.]+) s/.exec(summary);
      expect(served, summary).not.toBeNull();
      expect(Number(served?.[1])).toBeLessThan(15);
      expect(summary).toMatch(/restarted, it held shards again after [\d.]+ s/);
      expect(run.survivors).toEqual([]);
    },
    180_000,
  );
});
