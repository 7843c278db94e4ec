import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The CLI entry point, to start hubs and stores as separate processes. */
export const CLI_ENTRY = fileURLToPath(new URL('./main.ts', import.meta.url));

/** A shelfsync command running as a child process. */
export interface ChildCommand {
  readonly child: ChildProcess;
  /** The URL it printed once listening. */
  readonly url: string;
  /** The whole line it printed then (a proxy also names its control address there). */
  readonly line: string;
  /** Asks it to stop (SIGTERM) and resolves when it has exited. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra environment variables. */
  readonly env?: NodeJS.ProcessEnv;
  /** Node flags that let it run TypeScript; default: this process's own (the CLI runs under tsx). */
  readonly nodeArgs?: readonly string[];
  readonly timeoutMs?: number;
  /** The CLI to run; default this tree's (another release's, in upgrade tests). */
  readonly entry?: string;
  /** Its working directory (where `nodeArgs` such as `--import tsx` resolve); default this process's. */
  readonly cwd?: string;
}

/**
 * Starts `shelfsync <args>` as a child process and resolves once it prints its
 * "listening on <url>" line.
 */
export function startCommand(args: readonly string[], options: StartOptions = {}): Promise<ChildCommand> {
  const { env = {}, nodeArgs = process.execArgv, timeoutMs = 30_000, entry = CLI_ENTRY, cwd } = options;
  const inherited = { ...process.env };
  // A secret in the environment is readable by any process of the same user: none is passed down unasked.
  for (const name of SECRET_VARIABLES) delete inherited[name];
  const child = spawn(process.execPath, [...nodeArgs, entry, ...args], {
    ...(cwd === undefined ? {} : { cwd }),
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...inherited, ...env },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`shelfsync ${args.join(' ')} did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      output += chunk;
      // A whole line only: a chunk may end in the middle of the address.
      const match = /^(.*listening on (http:\/\/\S+).*)\n/m.exec(output);
      if (match?.[1] !== undefined && match[2] !== undefined) {
        clearTimeout(timer);
        resolve({
          child,
          url: match[2],
          line: match[1],
          stop: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            await exited;
          },
        });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`shelfsync ${args.join(' ')} exited with ${String(code)} before listening`));
    });
  });
}

/** Variables that carry secrets themselves; children get files instead. */
const SECRET_VARIABLES = ['SHELFSYNC_SECRET', 'SHELFSYNC_API_TOKEN', 'SHELFSYNC_TOKEN', 'SHELFSYNC_MANAGER_TOKEN'];

/**
 * Writes a secret file readable by its owner only (mode 600, in a directory
 * created 700), as `--secret-file` and the other secret-file flags demand, and
 * returns its path. A secret passed by file never shows in `ps` or /proc.
 */
export function writeSecretFile(path: string, contents: string): string {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // A new file, owner-only from its first byte, then renamed over any older one:
  // an existing file with looser permissions never holds the secret, even briefly.
  const fresh = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(fresh, `${contents}\n`, { mode: 0o600, flag: 'wx' });
  renameSync(fresh, path);
  return path;
}

/** `shelfsync hub` as a child process, its signing secret (and optionally its API tokens) read from files. */
export function startHubProcess(
  hub: { port: number; dataDir: string; secretFile: string; apiTokenFile?: string; flags?: readonly string[] },
  options: StartOptions = {},
): Promise<ChildCommand> {
  return startCommand(
    [
      'hub',
      '--port',
      String(hub.port),
      '--data',
      hub.dataDir,
      '--secret-file',
      hub.secretFile,
      ...(hub.apiTokenFile === undefined ? [] : ['--api-token-file', hub.apiTokenFile]),
      ...(hub.flags ?? []),
    ],
    options,
  );
}

/** `shelfsync store` as a child process; `hubUrl` may be the hub's http:// or ws:// address. */
export function startStoreProcess(
  store: { id: string; hubUrl: string; port: number; dataDir: string; tokenFile: string; flags?: readonly string[] },
  options: StartOptions = {},
): Promise<ChildCommand> {
  const hub = store.hubUrl.replace(/^http/, 'ws');
  return startCommand(
    [
      'store',
      '--id',
      store.id,
      '--hub',
      hub,
      '--port',
      String(store.port),
      '--data',
      store.dataDir,
      '--token-file',
      store.tokenFile,
      ...(store.flags ?? []),
    ],
    options,
  );
}
