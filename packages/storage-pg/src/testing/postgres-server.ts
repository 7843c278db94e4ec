import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { findPostgresBinDir, systemUser } from './postgres-binaries.js';
import { killTreeSync, LogTail, runToCompletion, ServerProcess, type RunAs } from './server-process.js';

export {
  findPostgresBinDir,
  postgresBinDirCandidates,
  SKIP_PG_TESTS_VARIABLE,
  skipPgTests,
} from './postgres-binaries.js';

export interface PostgresServerOptions {
  /** The database created for the caller; default `shelfsync`. */
  readonly database?: string;
  /** Default 40: several test files may each run a server on one machine. */
  readonly maxConnections?: number;
  /** How long a start (or restart, including crash recovery) may take; default 30 s. */
  readonly startTimeoutMs?: number;
}

/**
 * A throwaway PostgreSQL server for tests: its own data directory in a
 * temporary directory, on a free loopback port, trusting every local login as
 * `postgres`. Tests that start one honour `SHELFSYNC_SKIP_PG_TESTS=1`.
 */
export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:PORT/DATABASE` for the created database. */
  readonly url: string;
  readonly port: number;
  /** The server process's own PID (a new one after each start). */
  readonly pid: number;
  readonly dataDir: string;
  /** The URL of another database on this server. */
  urlFor(database: string): string;
  /** Creates a database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Fast shutdown (SIGINT), keeping the data: `start()` brings the server back on the same port. */
  halt(): Promise<void>;
  /** SIGKILLs the server and its backends, as a crash would; `start()` recovers. */
  kill9(): Promise<void>;
  /** Starts the server again on its data directory, and waits until it accepts connections. */
  start(): Promise<void>;
  /** `halt()` then `start()`. */
  restart(): Promise<void>;
  /** Stops the server and removes its temporary directory. Calling it again is harmless. */
  stop(): Promise<void>;
  /** The server's last log lines. */
  logTail(): string;
}

const servers = new Set<ServerProcess>();
const dirs = new Set<string>();
let exitHookInstalled = false;

function killAllSync(): void {
  for (const server of servers) if (server.alive) killTreeSync(server.pid);
  servers.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

/**
 * A test process that ends without teardown must still leave no server or
 * directory behind. vitest ends its workers with SIGTERM, which skips 'exit'
 * handlers, so the usual ending signals clean up too, then end the process as
 * they would have had nobody listened (unless someone else handles them).
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killAllSync);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllSync();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/** Runs initdb into a fresh temporary directory, starts the server and creates the database. */
export async function startPostgresServer(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const binDir = findPostgresBinDir();
  const runAs: RunAs = process.getuid?.() === 0 ? systemUser('postgres') : undefined;
  installExitHook();
  const root = mkdtempSync(join(tmpdir(), 'shelfsync-pg-'));
  dirs.add(root);
  let server: Server | undefined;
  try {
    if (runAs !== undefined) chownSync(root, runAs.uid, runAs.gid);
    const dataDir = join(root, 'data');
    // --no-sync: a crash while initdb runs leaves nothing worth keeping; the server itself keeps fsync on.
    const initArgs = ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'];
    await runToCompletion(join(binDir, 'initdb'), initArgs, runAs, root);
    server = new Server(binDir, runAs, root, dataDir, await freePort(), options);
    await server.start();
    const database = options.database ?? 'shelfsync';
    await server.createDatabase(database);
    server.database = database;
    return server;
  } catch (error) {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
    dirs.delete(root);
    throw error;
  }
}

class Server implements PostgresServer {
  database = 'postgres';
  private current: ServerProcess | undefined;
  private readonly log = new LogTail();
  private removed = false;

  constructor(
    private readonly binDir: string,
    private readonly runAs: RunAs,
    private readonly root: string,
    readonly dataDir: string,
    readonly port: number,
    private readonly options: PostgresServerOptions,
  ) {}

  get url(): string {
    return this.urlFor(this.database);
  }

  get pid(): number {
    if (this.current?.alive !== true) throw new Error('the PostgreSQL test server is not running');
    return this.current.pid;
  }

  urlFor(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${encodeURIComponent(database)}`;
  }

  async createDatabase(name: string): Promise<string> {
    if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) throw new TypeError(`invalid database name ${JSON.stringify(name)}`);
    await withClient(this.urlFor('postgres'), (client) => client.query(`CREATE DATABASE ${name}`));
    return this.urlFor(name);
  }

  async start(): Promise<void> {
    if (this.removed) throw new Error('the PostgreSQL test server was stopped for good');
    if (this.current?.alive === true) return;
    const args = [
      '-D',
      this.dataDir,
      '-p',
      String(this.port),
      '-k',
      this.root,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `max_connections=${this.options.maxConnections ?? 40}`,
      '-c',
      'shared_buffers=16MB',
      '-c',
      'huge_pages=off',
    ];
    const child = ServerProcess.spawn(join(this.binDir, 'postgres'), args, this.runAs, this.root, this.log);
    for (const old of servers) if (!old.alive) servers.delete(old);
    servers.add(child);
    this.current = child;
    await this.waitUntilReady(child);
  }

  async halt(): Promise<void> {
    await this.current?.stop('SIGINT', 10_000);
  }

  async kill9(): Promise<void> {
    await this.current?.killTree();
  }

  async restart(): Promise<void> {
    await this.halt();
    await this.start();
  }

  async stop(): Promise<void> {
    await this.halt();
    if (this.current !== undefined) servers.delete(this.current);
    this.removed = true;
    rmSync(this.root, { recursive: true, force: true });
    dirs.delete(this.root);
  }

  logTail(): string {
    return this.log.text();
  }

  /** Polls with a real login until the server accepts one (it refuses while starting up or recovering). */
  private async waitUntilReady(child: ServerProcess): Promise<void> {
    const timeoutMs = this.options.startTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      if (!child.alive) throw new Error(`PostgreSQL exited while starting:\n${this.log.text()}`);
      try {
        await withClient(this.urlFor('postgres'), (client) => client.query('SELECT 1'));
        return;
      } catch (error) {
        last = error;
      }
      if (Date.now() > deadline) {
        const reason = last instanceof Error ? last.message : String(last);
        await child.stop('SIGINT', 5_000);
        throw new Error(
          `PostgreSQL did not accept connections within ${timeoutMs} ms (last: ${reason}):\n${this.log.text()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function withClient<T>(url: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  // A connection the server drops would otherwise raise an unhandled 'error' event.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await body(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A port nothing listens on now: the kernel's pick for port 0. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not find a free port'));
      });
    });
  });
}
