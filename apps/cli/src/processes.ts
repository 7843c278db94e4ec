import { spawn, type ChildProcess } from 'node:child_process';
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
}

/**
 * Starts `shelfsync <args>` as a child process and resolves once it prints its
 * "listening on <url>" line.
 */
export function startCommand(args: readonly string[], options: StartOptions = {}): Promise<ChildCommand> {
  const { env = {}, nodeArgs = process.execArgv, timeoutMs = 30_000 } = options;
  const child = spawn(process.execPath, [...nodeArgs, CLI_ENTRY, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
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

/** `shelfsync hub` as a child process. */
export function startHubProcess(
  hub: { port: number; dataDir: string; secret: string; flags?: readonly string[] },
  options: StartOptions = {},
): Promise<ChildCommand> {
  return startCommand(
    // `--flag=value`: a secret may start with a dash, which would read as another flag.
    ['hub', '--port', String(hub.port), '--data', hub.dataDir, `--secret=${hub.secret}`, ...(hub.flags ?? [])],
    options,
  );
}

/** `shelfsync store` as a child process; `hubUrl` may be the hub's http:// or ws:// address. */
export function startStoreProcess(
  store: { id: string; hubUrl: string; port: number; dataDir: string; token: string; flags?: readonly string[] },
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
      `--token=${store.token}`,
      ...(store.flags ?? []),
    ],
    options,
  );
}
