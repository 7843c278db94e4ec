import { signStoreToken } from '@shelfsync/hub';
import { StoreIdSchema } from '@shelfsync/protocol';
import { join } from 'node:path';
import {
  startHubProcess,
  startStoreProcess,
  writeSecretFile,
  type ChildCommand,
  type StartOptions,
} from '../processes.js';

/** How a cluster lays out its files and starts its processes. */
export interface ClusterSettings {
  /** Holds every data directory (one per process, named after it) and the secrets directory. */
  readonly dir: string;
  /** The hub's signing secret; store tokens are signed with it. */
  readonly secret: string;
  /** The hub's API token (reservations, admin). */
  readonly apiToken: string;
  /** Environment and node flags of every child process. */
  readonly start?: StartOptions;
  /** Flags every start of the hub gets. */
  readonly hubFlags?: readonly string[];
  /** The hub's data directory, when not `<dir>/hub`. */
  readonly hubDataDir?: string;
  /** A restarted store listens on the port it had, so addresses handed out earlier stay good. */
  readonly sameStorePorts?: boolean;
}

/** What one start of a store may set apart from the cluster's defaults. */
export interface StoreStart {
  readonly flags?: readonly string[];
  readonly dataDir?: string;
  /** The hub's port on loopback, when not the cluster's hub (a proxy in front of it). */
  readonly hubPort?: number;
  /** The hub's address when it is not on loopback at a port (a TLS proxy); wins over `hubPort`. */
  readonly hubUrl?: string;
  /** Extra environment variables, over the cluster's own. */
  readonly env?: NodeJS.ProcessEnv;
  readonly tokenFile?: string;
}

/**
 * Real hub and store processes on loopback, each with its own data directory,
 * the hub on a free port it keeps across restarts. Secrets reach the processes
 * as owner-only files, as in production: never on a command line. The
 * simulator, the integration tests and the benches all start their processes
 * through this.
 */
export class ProcessCluster {
  readonly dir: string;
  readonly secret: string;
  readonly apiToken: string;
  readonly secretFile: string;
  readonly apiTokenFile: string;
  hub: ChildCommand | null = null;
  /** 0 until the hub first starts (or set beforehand to pick its port). */
  hubPort = 0;
  /**
   * Hub nodes of one cluster (the hub flags name its database with
   * `--database`), by name; each keeps its port across restarts, so a store's
   * `--hub` list (`hubNodeList`) stays true.
   */
  readonly hubNodes = new Map<string, ChildCommand>();
  private readonly hubNodePorts = new Map<string, number>();
  /** The running stores by id; a store killed with `killStore` leaves it. */
  readonly stores = new Map<string, ChildCommand>();
  /** Store starts in flight, so `stop` can wait for them. */
  private readonly starting = new Set<Promise<ChildCommand>>();
  private readonly storePorts = new Map<string, number>();

  constructor(private readonly settings: ClusterSettings) {
    this.dir = settings.dir;
    this.secret = settings.secret;
    this.apiToken = settings.apiToken;
    this.secretFile = this.secretFileOf('hub-secret', this.secret);
    this.apiTokenFile = this.secretFileOf('api-tokens', this.apiToken);
  }

  /** Starts the hub (again, on the same port and data, after a stop or a kill). */
  async startHub(): Promise<ChildCommand> {
    this.hub = await startHubProcess(
      {
        port: this.hubPort,
        dataDir: this.settings.hubDataDir ?? join(this.dir, 'hub'),
        secretFile: this.secretFile,
        apiTokenFile: this.apiTokenFile,
        flags: this.settings.hubFlags ?? [],
      },
      this.settings.start,
    );
    this.hubPort = Number(new URL(this.hub.url).port);
    return this.hub;
  }

  /** Stops the hub (SIGTERM) and waits for it to exit. */
  async stopHub(): Promise<void> {
    await this.hub?.stop();
    this.hub = null;
  }

  /** Kills the hub with -9 and waits for it to exit. */
  async killHub(): Promise<void> {
    await killProcess(this.hub);
    this.hub = null;
  }

  /** Starts hub node `name` (again, on the same port and data directory, after a stop or a kill). */
  async startHubNode(name: string, flags: readonly string[] = []): Promise<ChildCommand> {
    const node = await startHubProcess(
      {
        port: this.hubNodePorts.get(name) ?? 0,
        dataDir: join(this.dir, `hub-${name}`),
        secretFile: this.secretFile,
        apiTokenFile: this.apiTokenFile,
        flags: [...(this.settings.hubFlags ?? []), ...flags],
      },
      this.settings.start,
    );
    this.hubNodes.set(name, node);
    this.hubNodePorts.set(name, Number(new URL(node.url).port));
    return node;
  }

  /** Kills hub node `name` with -9 and waits for it to exit; it leaves `hubNodes` until started again. */
  async killHubNode(name: string): Promise<void> {
    await killProcess(this.hubNodes.get(name) ?? null);
    this.hubNodes.delete(name);
  }

  /** Stops hub node `name` (SIGTERM) and waits for it to exit. */
  async stopHubNode(name: string): Promise<void> {
    await this.hubNodes.get(name)?.stop();
    this.hubNodes.delete(name);
  }

  /** Hub node `name`'s HTTP address; throws when it is not running. */
  hubNode(name: string): string {
    const node = this.hubNodes.get(name);
    if (node === undefined) throw new Error(`no hub node ${name}`);
    return node.url;
  }

  /** The port hub node `name` listens on, also while it is down (0: never started). */
  hubNodePort(name: string): number {
    return this.hubNodePorts.get(name) ?? 0;
  }

  /** Every hub node started so far, as a store's `--hub` list: `ws://127.0.0.1:A,ws://127.0.0.1:B,...`. */
  hubNodeList(order: readonly string[] = [...this.hubNodePorts.keys()]): string {
    return order.map((name) => `ws://127.0.0.1:${this.hubNodePorts.get(name) ?? 0}`).join(',');
  }

  /** Starts store `id` (again, from its data directory, after a stop or a kill), with a fresh token. */
  async startStore(id: string, extra: StoreStart = {}): Promise<ChildCommand> {
    const start = this.settings.start ?? {};
    const starting = startStoreProcess(
      {
        id,
        hubUrl: extra.hubUrl ?? `ws://127.0.0.1:${extra.hubPort ?? this.hubPort}`,
        port: this.settings.sameStorePorts === true ? this.storePort(id) : 0,
        dataDir: extra.dataDir ?? this.dataDir(id),
        tokenFile: extra.tokenFile ?? this.tokenFile(id),
        flags: extra.flags ?? [],
      },
      extra.env === undefined ? start : { ...start, env: { ...start.env, ...extra.env } },
    );
    this.starting.add(starting);
    let store: ChildCommand;
    try {
      store = await starting;
    } finally {
      this.starting.delete(starting);
    }
    this.stores.set(id, store);
    this.storePorts.set(id, Number(new URL(store.url).port));
    return store;
  }

  /** Kills store `id` with -9 and waits for it to exit; it leaves `stores` until started again. */
  async killStore(id: string): Promise<void> {
    await killProcess(this.stores.get(id) ?? null);
    this.stores.delete(id);
  }

  /** True while store `id` was started, not killed, and has not exited. */
  storeRunning(id: string): boolean {
    return isRunning(this.stores.get(id) ?? null);
  }

  /** The port store `id` last listened on (0: never started); with `sameStorePorts`, also its next one. */
  storePort(id: string): number {
    return this.storePorts.get(id) ?? 0;
  }

  dataDir(id: string): string {
    return join(this.dir, id);
  }

  token(id: string, ttlMs?: number): string {
    return signStoreToken(StoreIdSchema.parse(id), this.secret, ttlMs === undefined ? {} : { ttlMs });
  }

  /** Writes a fresh token of `id` to its owner-only file (the store re-reads it before each attempt); returns the path. */
  tokenFile(id: string, ttlMs?: number): string {
    return this.secretFileOf(`${id}.token`, this.token(id, ttlMs));
  }

  /** Writes an owner-only file in the cluster's secrets directory; returns the path. */
  secretFileOf(name: string, contents: string): string {
    return writeSecretFile(join(this.dir, 'secrets', name), contents);
  }

  /** Store `id`'s address; throws when it is not running. */
  store(id: string): string {
    const store = this.stores.get(id);
    if (store === undefined) throw new Error(`no store ${id}`);
    return store.url;
  }

  /** Stops every store, then the hub (SIGTERM each); the files stay. */
  async stop(): Promise<void> {
    // Stores still starting (a sibling's start failed, and the caller stops) are
    // waited for, so none is left running once this resolves.
    await Promise.allSettled([...this.starting]);
    await Promise.all([...this.stores.values()].map((s) => s.stop()));
    await Promise.all([...this.hubNodes.keys()].map((name) => this.stopHubNode(name)));
    await this.stopHub();
  }
}

/** True while `child` has neither exited nor been killed. */
export function isRunning(child: ChildCommand | null): child is ChildCommand {
  return child !== null && child.child.exitCode === null && child.child.signalCode === null;
}

/** kill -9, resolved once the process has exited; nothing to do for one already gone. */
export async function killProcess(child: ChildCommand | null): Promise<void> {
  if (!isRunning(child)) return;
  const exited = new Promise<void>((resolve) => child.child.once('exit', () => resolve()));
  child.child.kill('SIGKILL');
  await exited;
}
