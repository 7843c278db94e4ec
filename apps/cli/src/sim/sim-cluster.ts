import { StoreIdSchema, seededRandom, type StoreId } from '@shelfsync/protocol';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { TcpProxy } from '../tcp-proxy.js';
import { ProcessCluster, isRunning } from './cluster.js';

export interface SimClusterOptions {
  readonly seed: number;
  readonly stores: number;
  readonly dataDir: string;
  /** Manager override at every store and the hub (0: off). */
  readonly overrideCap: number;
  readonly reservationTtlMs: number;
}

/**
 * The simulator's cluster: a hub and N stores as processes, each store's link
 * to the hub through its own in-process TCP fault proxy (seeded, so its jitter
 * replays). Stores are named by index, as fault schedules name them, and every
 * process restarts on the port it had, so operations address it the same way
 * before a kill and after.
 */
export class SimCluster {
  private constructor(
    private readonly processes: ProcessCluster,
    readonly storeIds: readonly StoreId[],
    private readonly proxies: readonly TcpProxy[],
    private readonly storeFlags: readonly string[],
    readonly managerToken: string,
  ) {}

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
    const proxies: TcpProxy[] = [];
    const storeFlags =
      options.overrideCap > 0
        ? ['--override-cap', String(options.overrideCap), '--manager-token-file', managerTokenFile]
        : [];
    const cluster = new SimCluster(processes, storeIds, proxies, storeFlags, managerToken);
    try {
      await processes.startHub();
      proxies.push(
        ...(await Promise.all(
          storeIds.map((_, i) => TcpProxy.start(processes.hubPort, seededRandom(options.seed + 1 + i))),
        )),
      );
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
    return `http://127.0.0.1:${this.processes.hubPort}`;
  }

  /** Store `i`'s address, the same while it is down: a request then finds the connection refused. */
  storeUrl(i: number): string {
    return `http://127.0.0.1:${this.processes.storePort(this.storeIds[i] ?? '')}`;
  }

  /** The fault proxy on store `i`'s link to the hub. */
  proxy(i: number): TcpProxy | undefined {
    return this.proxies[i];
  }

  get allProxies(): readonly TcpProxy[] {
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

  async killHub(): Promise<void> {
    await this.processes.killHub();
  }

  /** Starts the hub again (same port, same data), if a kill took it down. */
  async restartHub(): Promise<void> {
    if (this.processes.hub === null) await this.processes.startHub();
  }

  /** Every process back up: the hub, then each store, that was killed or has exited. */
  async restartStopped(): Promise<void> {
    if (!isRunning(this.processes.hub)) await this.processes.startHub();
    for (let i = 0; i < this.storeIds.length; i++) {
      if (!this.processes.storeRunning(this.storeIds[i] ?? '')) await this.startStore(i);
    }
  }

  /** Closes the proxies, then stops the stores and the hub. */
  async close(): Promise<void> {
    for (const proxy of this.proxies) await proxy.close();
    await this.processes.stop();
  }

  private async startStore(i: number): Promise<void> {
    await this.processes.startStore(this.storeIds[i] ?? '', {
      hubPort: this.proxies[i]?.port ?? 0,
      flags: this.storeFlags,
    });
  }
}
