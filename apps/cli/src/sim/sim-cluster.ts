import { StoreIdSchema, seededRandom, type StoreId } from '@shelfsync/protocol';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { TcpProxy } from '../tcp-proxy.js';
import { ProcessCluster, isRunning } from './cluster.js';
import { ProxyGroup, type LinkProxy } from './proxy-group.js';
import type { DatabaseCut, Takeover } from './sim-hub-nodes.js';
import { SimHubNodes } from './sim-hub-nodes.js';

export interface SimClusterOptions {
  readonly seed: number;
  readonly stores: number;
  readonly dataDir: string;
  /** Manager override at every store and the hub (0: off). */
  readonly overrideCap: number;
  readonly reservationTtlMs: number;
  /** Three hub nodes on a PostgreSQL server of the run's own, instead of one hub on its file. */
  readonly cluster?: boolean;
}

/**
 * The simulator's cluster: a hub and N stores as processes, each store's link
 * to the hub through its own in-process TCP fault proxy (seeded, so its jitter
 * replays). Stores are named by index, as fault schedules name them, and every
 * process restarts on the port it had, so operations address it the same way
 * before a kill and after. In cluster mode the hub is three nodes on
 * PostgreSQL (SimHubNodes), and each store has a proxy per node.
 */
export class SimCluster {
  private constructor(
    private readonly processes: ProcessCluster,
    readonly storeIds: readonly StoreId[],
    private readonly proxies: LinkProxy[],
    private readonly storeFlags: readonly string[],
    readonly managerToken: string,
  ) {}

  /** The hub nodes in cluster mode; null with one hub. */
  private nodes: SimHubNodes | null = null;
  /** Each store's `--hub` address: its proxy, or in cluster mode its proxies to every node. */
  private readonly hubAddresses: string[] = [];

  /** Starts the hub, the proxies, then the stores one by one; stops what it started if one fails. */
  static async start(options: SimClusterOptions): Promise<SimCluster> {
    mkdirSync(options.dataDir, { recursive: true });
    const processes = new ProcessCluster({
      dir: options.dataDir,
      secret: randomBytes(24).toString('hex'),
      apiToken: randomBytes(24).toString('hex'),
      start: { env: { SHELFSYNC_LOG_LEVEL: process.env.SHELFSYNC_LOG_LEVEL ?? 'error' } },
      hubFlags: [
        '--reservation-ttl-ms',
        String(options.reservationTtlMs),
        '--escrow-rebalance-ms',
        '2000',
        // The simulator reads and writes far above a storefront's per-client budget.
        '--rate-limit',
        '100000',
        '--rate-limit-burst',
        '100000',
        '--override-cap',
        String(options.overrideCap),
      ],
      sameStorePorts: true,
    });
    const managerToken = randomBytes(24).toString('hex');
    const managerTokenFile = processes.secretFileOf('manager-tokens', managerToken);
    const storeIds = Array.from({ length: options.stores }, (_, i) => StoreIdSchema.parse(`store-${i + 1}`));
    const proxies: LinkProxy[] = [];
    const storeFlags =
      options.overrideCap > 0
        ? ['--override-cap', String(options.overrideCap), '--manager-token-file', managerTokenFile]
        : [];
    const cluster = new SimCluster(processes, storeIds, proxies, storeFlags, managerToken);
    try {
      if (options.cluster === true) await cluster.startNodes(options.seed);
      else {
        await processes.startHub();
        for (const [i] of storeIds.entries()) {
          const proxy = await TcpProxy.start(processes.hubPort, seededRandom(options.seed + 1 + i));
          proxies.push(proxy);
          cluster.hubAddresses.push(`ws://127.0.0.1:${proxy.port}`);
        }
      }
      for (let i = 0; i < storeIds.length; i++) await cluster.startStore(i);
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  get apiToken(): string {
    return this.processes.apiToken;
  }

  get hubUrl(): string {
    return this.nodes?.url(0) ?? `http://127.0.0.1:${this.processes.hubPort}`;
  }

  /** Every hub replica by name: "hub", or in cluster mode each node ("hub-a", ...). */
  get hubs(): readonly { name: string; url: string }[] {
    const nodes = this.nodes;
    if (nodes === null) return [{ name: 'hub', url: this.hubUrl }];
    return nodes.names.map((name, i) => ({ name: `hub-${name}`, url: nodes.url(i) }));
  }

  /** In cluster mode: how long each downed node's shards took to be served elsewhere. */
  get takeovers(): readonly Takeover[] {
    return this.nodes?.takeovers ?? [];
  }

  /** Store `i`'s address, the same while it is down: a request then finds the connection refused. */
  storeUrl(i: number): string {
    return `http://127.0.0.1:${this.processes.storePort(this.storeIds[i] ?? '')}`;
  }

  /** The fault proxy on store `i`'s link to the hub. */
  proxy(i: number): LinkProxy | undefined {
    return this.proxies[i];
  }

  get allProxies(): readonly LinkProxy[] {
    return this.proxies;
  }

  /** kill -9 of store `i`; it stays down until `restartStore` or `restartStopped`. */
  async killStore(i: number): Promise<void> {
    await this.processes.killStore(this.storeIds[i] ?? '');
  }

  /** Starts store `i` again from its data directory, if a kill took it down. */
  async restartStore(i: number): Promise<void> {
    if (!this.processes.stores.has(this.storeIds[i] ?? '')) await this.startStore(i);
  }

  /** kill -9 of the hub; in cluster mode, of every node. */
  async killHub(): Promise<void> {
    if (this.nodes === null) await this.processes.killHub();
    // Every node at once: there is no other node to take the shards, so no takeover to time.
    else for (const [i] of this.nodes.names.entries()) await this.nodes.kill(i, false);
  }

  /** Starts the hub again (same port, same data), if a kill took it down; in cluster mode, every node down. */
  async restartHub(): Promise<void> {
    if (this.nodes !== null) for (const [i] of this.nodes.names.entries()) await this.nodes.restart(i);
    else if (this.processes.hub === null) await this.processes.startHub();
  }

  async killNode(i: number): Promise<void> {
    await this.clusterNodes().kill(i);
  }

  async restartNode(i: number): Promise<void> {
    await this.clusterNodes().restart(i);
  }

  cutDatabase(i: number, mode: DatabaseCut): void {
    this.clusterNodes().cutDatabase(i, mode);
  }

  restoreDatabase(i: number): void {
    this.clusterNodes().restoreDatabase(i);
  }

  /** Every process back up: the hub (in cluster mode every node, its database link restored), then each store. */
  async restartStopped(): Promise<void> {
    if (this.nodes !== null) await this.nodes.heal();
    else if (!isRunning(this.processes.hub)) await this.processes.startHub();
    for (let i = 0; i < this.storeIds.length; i++) {
      if (!this.processes.storeRunning(this.storeIds[i] ?? '')) await this.startStore(i);
    }
  }

  /** Closes the proxies, then stops the stores and the hub (in cluster mode the nodes, then PostgreSQL). */
  async close(): Promise<void> {
    for (const proxy of this.proxies) await proxy.close();
    try {
      await this.processes.stop();
    } finally {
      await this.nodes?.close();
    }
  }

  private clusterNodes(): SimHubNodes {
    if (this.nodes === null) throw new Error('hub node faults need the cluster mode (--cluster)');
    return this.nodes;
  }

  /** PostgreSQL and the nodes, then per store a proxy to each node, listed from the store's own first node. */
  private async startNodes(seed: number): Promise<void> {
    const nodes = await SimHubNodes.start(this.processes, seed);
    this.nodes = nodes;
    for (const [i] of this.storeIds.entries()) {
      const order = nodes.names.map((_, k) => (i + k) % nodes.names.length);
      const group = new ProxyGroup(
        await Promise.all(
          order.map((n) =>
            TcpProxy.start(this.processes.hubNodePort(nodes.name(n)), seededRandom(seed + 1 + i * 8 + n)),
          ),
        ),
      );
      this.proxies.push(group);
      this.hubAddresses.push(group.proxies.map((proxy) => `ws://127.0.0.1:${proxy.port}`).join(','));
    }
  }

  private async startStore(i: number): Promise<void> {
    await this.processes.startStore(this.storeIds[i] ?? '', {
      hubUrl: this.hubAddresses[i] ?? '',
      flags: this.storeFlags,
    });
  }
}
