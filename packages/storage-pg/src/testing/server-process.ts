import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** The user a binary runs as: PostgreSQL refuses to run as root. Undefined: as ourselves. */
export type RunAs = { readonly uid: number; readonly gid: number } | undefined;

/** The last lines a process wrote, for error messages. */
export class LogTail {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly keep = 40) {}

  push(chunk: Buffer | string): void {
    const parts = (this.partial + chunk.toString()).split('\n');
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts);
    if (this.lines.length > this.keep) this.lines.splice(0, this.lines.length - this.keep);
  }

  text(): string {
    return [...this.lines, this.partial].filter((line) => line !== '').join('\n');
  }
}

function spawnAs(binary: string, args: readonly string[], runAs: RunAs, cwd: string, log: LogTail): ChildProcess {
  // Node sets the ids in the child itself (and drops root's supplementary groups),
  // so the process we hold is the binary: `runuser` would fork a watching parent,
  // and a SIGKILL sent to that parent would leave the server running.
  const child = spawn(binary, args, {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(runAs === undefined ? {} : { uid: runAs.uid, gid: runAs.gid }),
  });
  child.stdout?.on('data', (chunk: Buffer) => log.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => log.push(chunk));
  return child;
}

/** Runs a one-shot binary (initdb) and rejects with its output unless it exits 0. */
export function runToCompletion(binary: string, args: readonly string[], runAs: RunAs, cwd: string): Promise<void> {
  const log = new LogTail();
  const child = spawnAs(binary, args, runAs, cwd, log);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${binary} ${args.join(' ')} exited with ${code ?? signal}:\n${log.text()}`));
    });
  });
}

/** A long-running server process whose own PID we hold. */
export class ServerProcess {
  readonly exited: Promise<void>;
  private running = true;

  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        this.running = false;
        resolve();
      });
    });
  }

  static spawn(binary: string, args: readonly string[], runAs: RunAs, cwd: string, log: LogTail): ServerProcess {
    const child = spawnAs(binary, args, runAs, cwd, log);
    child.on('error', (error) => log.push(`spawn failed: ${error.message}\n`));
    if (child.pid === undefined) throw new Error(`could not start ${binary}:\n${log.text()}`);
    return new ServerProcess(child, child.pid);
  }

  get alive(): boolean {
    return this.running;
  }

  /** Sends `signal`; SIGKILL if it has not exited after `timeoutMs`. Resolves once it has exited. */
  async stop(signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs);
    });
    const outcome = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  /**
   * SIGKILLs the server and every process it started, as a power cut would:
   * backends left running would keep its shared memory attached, and a new
   * server refuses to start on the data directory until they are gone.
   */
  async killTree(): Promise<void> {
    const children = killTreeSync(this.pid);
    await this.exited;
    const deadline = Date.now() + 10_000;
    while (children.some(isRunning)) {
      if (Date.now() > deadline) throw new Error(`processes ${children.filter(isRunning).join(', ')} outlived SIGKILL`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** SIGKILLs `pid` and its direct children (a postmaster's backends); returns the children. Synchronous, for exit handlers. */
export function killTreeSync(pid: number): number[] {
  const children = childrenOf(pid);
  for (const target of [pid, ...children]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return children;
}

function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (parentOf(Number(entry)) === pid) found.push(Number(entry));
  }
  return found;
}

/** Fields of /proc/PID/stat after the command name: state, then the parent's PID. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // exited meanwhile
  }
}

function parentOf(pid: number): number | undefined {
  const ppid = statFields(pid)?.[1];
  return ppid === undefined ? undefined : Number(ppid);
}

/** A zombie counts as gone: it holds no memory, files or sockets any more. */
function isRunning(pid: number): boolean {
  if (!existsSync(`/proc/${pid}`)) return false;
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z' && state !== 'X';
}
