import { signStoreToken } from '@shelfsync/hub';
import { StoreIdSchema } from '@shelfsync/protocol';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_ENTRY, writeSecretFile } from '../../src/index.js';
import type { FuzzContext } from './input.js';

/**
 * A shelfsync process under fuzz: its stderr is read here (not inherited) so a
 * run can count the log bytes it writes and show the last lines if it dies.
 */
export class WatchedProcess {
  stderrBytes = 0;
  exit: { code: number | null; signal: string | null } | null = null;
  private tailText = '';
  private readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly url: string,
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      child.once('exit', () => resolve());
    });
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  get alive(): boolean {
    return this.exit === null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last few KiB it wrote to stderr: the crash, if it crashed. */
  tail(): string {
    return this.tailText;
  }

  /** Its peak resident set size so far (VmHWM), in bytes; null off Linux. */
  peakRss(): number | null {
    try {
      const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.child.pid ?? 0}/status`, 'utf8'));
      return match?.[1] === undefined ? null : Number(match[1]) * 1024;
    } catch {
      return null;
    }
  }

  async stop(): Promise<void> {
    if (this.alive) this.child.kill('SIGTERM');
    await this.exited;
  }

  /** Starts `shelfsync <args>` and resolves once it prints where it listens. */
  static start(name: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<WatchedProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let watched: WatchedProcess | null = null;
    let tail = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      const text = (watched?.tailText ?? tail) + chunk;
      const kept = text.length > 8192 ? text.slice(-8192) : text;
      if (watched === null) tail = kept;
      else {
        watched.tailText = kept;
        watched.stderrBytes += Buffer.byteLength(chunk);
      }
    });
    child.once('exit', (code, signal) => {
      if (watched !== null) watched.exit = { code, signal };
    });
    return new Promise((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${name} did not start within 60 s:\n${tail}`));
      }, 60_000);
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (chunk: string) => {
        output += chunk;
        const match = /listening on (http:\/\/\S+)/.exec(output);
        if (match?.[1] !== undefined && watched === null) {
          clearTimeout(timer);
          watched = new WatchedProcess(name, child, match[1]);
          watched.tailText = tail;
          resolve(watched);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${String(code)} before listening:\n${tail}`));
      });
    });
  }
}

/** A hub, an honest store syncing with it, and the credentials fuzzing peers use. */
export interface FuzzTargets {
  readonly hub: WatchedProcess;
  readonly store: WatchedProcess;
  /** The store whose sales must keep reaching the hub, and the SKU it sells. */
  readonly honest: { readonly storeId: string; readonly sku: string };
  readonly context: FuzzContext;
  stop(): Promise<void>;
}

/** Peers that authenticate with valid tokens; several, so they replace each other's sessions less often. */
const PEERS = 16;
const TOKENS_ISSUED_AT = Date.UTC(2026, 0, 1);
const TOKENS_TTL_MS = 10 * 366 * 86_400_000;

/** Starts a real hub and store on loopback, each in its own data directory; `stop` removes them. */
export async function startFuzzTargets(): Promise<FuzzTargets> {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsync-fuzz-'));
  const secret = 'wire-fuzz-secret-0123456789abcdef';
  const started: WatchedProcess[] = [];
  try {
    const hub = await WatchedProcess.start('hub', [
      'hub',
      '--port',
      '0',
      '--data',
      join(dir, 'hub'),
      '--secret-file',
      writeSecretFile(join(dir, 'secrets', 'hub-secret'), secret),
      '--api-token-file',
      writeSecretFile(join(dir, 'secrets', 'api-tokens'), 'wire-fuzz-api-token-0123456789'),
    ]);
    started.push(hub);
    const honest = StoreIdSchema.parse('honest');
    const store = await WatchedProcess.start('store', [
      'store',
      '--id',
      honest,
      '--hub',
      hub.url.replace(/^http/, 'ws'),
      '--port',
      '0',
      '--data',
      join(dir, honest),
      '--token-file',
      writeSecretFile(join(dir, 'secrets', 'honest.token'), signStoreToken(honest, secret)),
    ]);
    started.push(store);
    const peers = Array.from({ length: PEERS }, (_, i) => {
      const storeId = StoreIdSchema.parse(`fz${i}`);
      // Issued at a fixed time, so the same seed sends the same bytes; valid for ten years from then.
      return { storeId, token: signStoreToken(storeId, secret, { now: TOKENS_ISSUED_AT, ttlMs: TOKENS_TTL_MS }) };
    });
    return {
      hub,
      store,
      honest: { storeId: honest, sku: 'honest-check.1' },
      context: { peers },
      async stop() {
        await Promise.all(started.map((p) => p.stop()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await Promise.all(started.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
