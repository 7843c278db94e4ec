import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ShardLeases, type ShardLeasesOptions } from '../src/index.js';
import { serverPerFile } from './support.js';

/** Short leases keep the tests fast; every bound below is stated in these terms. */
export const FAST = { leaseMs: 1_000, renewEveryMs: 200 } as const;

/**
 * A test file's PostgreSQL for shard leases: one server for the file, a fresh
 * database per test, and every node (and child process) a test started closed
 * after it. Call inside the file's describe.
 */
export function leasesFixture(prefix: string) {
  const opened: ShardLeases[] = [];
  const children: ChildProcessWithoutNullStreams[] = [];
  const { server, fresh } = serverPerFile(prefix, async () => {
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const leases of opened.splice(0)) await leases.close();
  });
  return {
    server,
    fresh,
    open: async (url: string, options: ShardLeasesOptions): Promise<ShardLeases> => {
      const leases = await ShardLeases.open(url, { ...FAST, shards: 16, onError: () => undefined, ...options });
      opened.push(leases);
      return leases;
    },
    /** A node in a process of its own (lease-node.ts), to be killed. */
    spawnNode: (url: string, node: string, options: { shards: number; leaseMs: number; renewEveryMs: number }) => {
      const child = spawnLeaseNode(url, node, options);
      children.push(child.process);
      return child;
    },
  };
}

export interface LeaseNodeProcess {
  readonly process: ChildProcessWithoutNullStreams;
  /** The shards it last said it owns. */
  owned(): number[];
  /** Resolves once it printed its first `owned` line. */
  readonly ready: Promise<void>;
}

function spawnLeaseNode(
  url: string,
  node: string,
  { shards, leaseMs, renewEveryMs }: { shards: number; leaseMs: number; renewEveryMs: number },
): LeaseNodeProcess {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const script = fileURLToPath(new URL('./lease-node.ts', import.meta.url));
  // tsx as a loader of node itself: the tsx command runs the script in a
  // grandchild, which a SIGKILL of the command would leave running.
  const args = ['--import', 'tsx', script, url, node, String(shards), String(leaseMs), String(renewEveryMs)];
  const child = spawn(process.execPath, args, { stdio: 'pipe', cwd: root });
  let owned: number[] = [];
  let buffered = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    child.once('exit', (code, signal) => reject(new Error(`lease node ${node} exited (${code ?? signal})`)));
  });
  ready.catch(() => undefined);
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const match = /^owned ([\d,]*)$/.exec(line);
      if (match === null) continue;
      owned = match[1] === '' || match[1] === undefined ? [] : match[1].split(',').map(Number);
      markReady();
    }
  });
  child.stderr.resume();
  return { process: child, owned: () => owned, ready };
}

/** Waits for `condition` (checked every 10 ms), never for a fixed time. */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Every shard owned by exactly one of `nodes`, none above the fair share. */
export function balanced(nodes: readonly ShardLeases[], shards: number): boolean {
  const fair = Math.ceil(shards / nodes.length);
  const owners = new Map<number, number>();
  for (const node of nodes) {
    const owned = node.ownedShards();
    if (owned.length > fair) return false;
    for (const shard of owned) owners.set(shard, (owners.get(shard) ?? 0) + 1);
  }
  return owners.size === shards && [...owners.values()].every((count) => count === 1);
}
