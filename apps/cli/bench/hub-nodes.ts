import { shardOf } from '@shelfsync/hub-pg';
import { startPostgresServer, type PostgresServer } from '@shelfsync/storage-pg/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessCluster } from '../src/index.js';

/** What `/v1/cluster` says, as far as the benches read it. */
interface ClusterView {
  readonly node: string;
  readonly shardCount: number;
  readonly nodes: readonly { node: string; alive: boolean }[];
  readonly shards: readonly { shard: number; node: string | null; live: boolean }[];
}

/**
 * Hub processes on one throwaway PostgreSQL server, named `a`, `b`, ..., for
 * the cluster benches: started, killed and restarted for real, with the
 * cluster's view of who owns which SKU.
 */
export class HubNodes {
  /** Each running node's id in the cluster, by name. */
  private readonly ids = new Map<string, string>();

  private constructor(
    readonly server: PostgresServer,
    readonly cluster: ProcessCluster,
    readonly names: readonly string[],
  ) {}

  static async start(names: readonly string[], hubFlags: readonly string[] = []): Promise<HubNodes> {
    const server = await startPostgresServer();
    const cluster = new ProcessCluster({
      dir: mkdtempSync(join(tmpdir(), 'shelfsync-nodes-bench-')),
      secret: 'bench-secret-0123456789abcdef',
      apiToken: 'bench-api-token-0123456789',
      start: { env: { SHELFSYNC_LOG_LEVEL: 'error' } },
      hubFlags: ['--database', server.url, '--rate-limit', '0', ...hubFlags],
    });
    const nodes = new HubNodes(server, cluster, names);
    try {
      for (const name of names) await nodes.startNode(name);
      await nodes.balanced();
      return nodes;
    } catch (error) {
      await nodes.stop();
      throw error;
    }
  }

  url(name: string): string {
    return this.cluster.hubNode(name);
  }

  async startNode(name: string): Promise<void> {
    await this.cluster.startHubNode(name);
    this.ids.set(name, (await this.view(name)).node);
  }

  async killNode(name: string): Promise<void> {
    await this.cluster.killHubNode(name);
    this.ids.delete(name);
  }

  async view(name: string): Promise<ClusterView> {
    const res = await fetch(`${this.url(name)}/v1/cluster`);
    return (await res.json()) as ClusterView;
  }

  /** The running node that holds `sku`'s shard now, as node `asked` sees it; undefined while none does. */
  async ownerOf(sku: string, asked: string): Promise<string | undefined> {
    const view = await this.view(asked);
    const owner = view.shards.find((s) => s.shard === shardOf(sku, view.shardCount) && s.live)?.node;
    return [...this.ids].find(([, id]) => id === owner)?.[0];
  }

  /** Resolves once every running node is alive, every shard live, and each node holds a share. */
  async balanced(timeoutMs = 60_000): Promise<void> {
    const running = [...this.ids.keys()];
    const until = Date.now() + timeoutMs;
    for (;;) {
      const view = await this.view(running[0] ?? '');
      const owners = new Set(view.shards.filter((s) => s.live).map((s) => s.node));
      const alive = view.nodes.filter((n) => n.alive).length;
      if (alive === running.length && view.shards.every((s) => s.live) && owners.size === running.length) return;
      if (Date.now() > until) throw new Error(`the hub nodes did not balance within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async stop(): Promise<void> {
    await this.cluster.stop();
    await this.server.stop();
    rmSync(this.cluster.dir, { recursive: true, force: true });
  }
}

export const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
