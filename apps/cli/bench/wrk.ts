import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Runs wrk (https://github.com/wg/wrk, Debian package `wrk`), a load generator
 * written in C, against a set of paths at about a given rate. It matters on a
 * two-core machine: a load generator on Node spends a large share of a core on
 * its own event loop and garbage collection, and its stalls show up as the
 * server's latency. wrk costs a fraction of that.
 *
 * wrk has no fixed-rate mode; each connection waits `delay` ms after a response
 * before its next request (a client with think time), which sets the rate. Like
 * any closed-loop client it does not send the requests a stalled server would
 * have received meanwhile (coordinated omission), so the benchmark reports the
 * open-loop autocannon figures next to it.
 */
export interface WrkResult {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly requestsPerSecond: number;
  readonly requests: number;
  readonly non2xx3xx: number;
  readonly socketErrors: number;
}

export async function wrkAvailable(): Promise<boolean> {
  try {
    await promisify(execFile)('wrk', ['--version']);
    return true;
  } catch (error) {
    // wrk --version prints its banner and exits 1; only a missing binary fails to spawn.
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

export async function runWrk(options: {
  readonly base: string;
  readonly paths: readonly string[];
  readonly headers?: Readonly<Record<string, string>>;
  readonly rate: number;
  readonly connections: number;
  readonly seconds: number;
  readonly dir: string;
}): Promise<WrkResult> {
  const { base, paths, headers = {}, rate, connections, seconds, dir } = options;
  // One connection's cycle is its think time plus about a millisecond of response
  // and timer slack; err towards offering a little more than the rate, not less.
  const thinkMs = Math.max(0, Math.floor((1000 * connections) / rate) - 2);
  const script = join(dir, 'wrk-reads.lua');
  writeFileSync(
    script,
    [
      `local paths = { ${paths.map((p) => JSON.stringify(p)).join(', ')} }`,
      `local headers = { ${Object.entries(headers)
        .map(([k, v]) => `[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)
        .join(', ')} }`,
      'local i = 0',
      'request = function()',
      '  i = i % #paths + 1',
      '  return wrk.format("GET", paths[i], headers)',
      'end',
      `delay = function() return ${thinkMs} end`,
      '',
    ].join('\n'),
  );
  const { stdout } = await promisify(execFile)(
    'wrk',
    ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, base],
    { maxBuffer: 1 << 20 },
  );
  return parseWrkOutput(stdout);
}

/** Parses wrk's `--latency` report; durations in ms. */
export function parseWrkOutput(text: string): WrkResult {
  const duration = (value: string): number => {
    const match = /^([\d.]+)(us|ms|s|m)$/.exec(value);
    if (match === null) throw new Error(`unreadable wrk duration "${value}"`);
    const scale = { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2] as 'us' | 'ms' | 's' | 'm'];
    return Number(match[1]) * scale;
  };
  const find = (pattern: RegExp): RegExpExecArray => {
    const match = pattern.exec(text);
    if (match === null) throw new Error(`wrk output lacks ${String(pattern)}:\n${text}`);
    return match;
  };
  const latency = find(/^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)/m);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    p50: duration(find(/^\s*50%\s+(\S+)/m)[1] ?? ''),
    p99: duration(find(/^\s*99%\s+(\S+)/m)[1] ?? ''),
    max: duration(latency[3] ?? ''),
    requestsPerSecond: Number(find(/^Requests\/sec:\s+([\d.]+)/m)[1]),
    requests: Number(find(/^\s*(\d+) requests in/m)[1]),
    non2xx3xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0),
    socketErrors: errors === null ? 0 : errors.slice(1).reduce((sum, n) => sum + Number(n), 0),
  };
}
