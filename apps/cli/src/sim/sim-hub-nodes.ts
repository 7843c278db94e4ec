import { ClusterSchema, seededRandom } from '@shelfsync/protocol';
import { startPostgresServer, type PostgresServer } from '@shelfsync/storage-pg/testing';
import { TcpProxy } from '../tcp-proxy.js';
import { isRunning, type ProcessCluster } from './cluster.js';
import { HUB_NODE_NAMES } from './scenarios.js';
import { delay, waitFor } from './wait.js';

/** How a database cut is made at a node's proxy: connections dropped and refused, or held silent. */
export type DatabaseCut = 'reset' | 'hold';

/** How long after a node went down (killed, or cut from the database) its shards were live on other nodes. */
export interface Takeover {
  readonly node: string;
  readonly fault: 'kill-node' | 'cut-db';
  /** Null: the shards had not moved when the node came back (or the run ended). */
  readonly movedAfterMs: number | null;
}

const TAKEOVER_POLL_MS = 100;

/**
 * The simulator's hub cluster: a PostgreSQL server of the run's own, and three
 * hub nodes on it, each reaching the database through its own fault proxy (so
 * one node can be cut from it while the others go on). Nodes keep their ports
 * across restarts, so the stores' `--hub` lists stay true.
 */
export class SimHubNodes {
  readonly takeovers: Takeover[] = [];
  private readonly watches = new Set<Promise<void>>();
  /** Each node's id in the cluster (as GET /v1/cluster names it), learnt at its first start. */
  private readonly ids = new Map<string, string>();
  /** Nodes killed or cut from the database, not yet back: their takeover is being watched. */
  private readonly down = new Set<number>();
  private closed = false;

  private constructor(
    private readonly processes: ProcessCluster,
    private readonly server: PostgresServer,
    private readonly databaseProxies: readonly TcpProxy[],
  ) {}

  /** Starts PostgreSQL, a database proxy per node, then the nodes; stops what it started if one fails. */
  static async start(processes: ProcessCluster, seed: number): Promise<SimHubNodes> {
    // Room for a node's pools twice over: a node cut by a hold keeps its old connections while it opens new ones.
    const server = await startPostgresServer({ database: 'shelfsync_sim', maxConnections: 100 });
    const proxies: TcpProxy[] = [];
    const nodes = new SimHubNodes(processes, server, proxies);
    try {
      for (let i = 0; i < HUB_NODE_NAMES.length; i++) {
        proxies.push(await TcpProxy.start(server.port, seededRandom(seed ^ (0xdb00 + i))));
      }
      for (let i = 0; i < HUB_NODE_NAMES.length; i++) await nodes.startNode(i);
      // Every node holds shards before the stores come, so their sessions spread and no write waits on a lease.
      await waitFor('every hub node to hold shards', 30_000, async () => {
        const view = await clusterView(nodes.url(0)).catch(() => null);
        const owners = new Set(view?.shards.filter((s) => s.live).map((s) => s.node));
        return view !== null && view.shards.every((s) => s.live) && owners.size === HUB_NODE_NAMES.length;
      });
    } catch (error) {
      await nodes.close();
      throw error;
    }
    return nodes;
  }

  /** Node `i`'s name: a, b, c. */
  name(i: number): string {
    return HUB_NODE_NAMES[i] ?? `node-${i}`;
  }

  get names(): readonly string[] {
    return HUB_NODE_NAMES;
  }

  /** Node `i`'s HTTP address, the same while it is down. */
  url(i: number): string {
    return `http://127.0.0.1:${this.processes.hubNodePort(this.name(i))}`;
  }

  /** kill -9 of node `i`; unless every node goes down (`watch` false), the time until the others serve its shards is recorded. */
  async kill(i: number, watch = true): Promise<void> {
    await this.processes.killHubNode(this.name(i));
    if (watch) this.watchTakeover(i, 'kill-node');
  }

  /** Starts node `i` again (same port, same database), if it is down. */
  async restart(i: number): Promise<void> {
    this.down.delete(i);
    if (!isRunning(this.processes.hubNodes.get(this.name(i)) ?? null)) await this.startNode(i);
  }

  /** Cuts node `i` from PostgreSQL at its proxy; the node itself keeps running. */
  cutDatabase(i: number, mode: DatabaseCut): void {
    const proxy = this.databaseProxies[i];
    if (mode === 'hold') proxy?.hold();
    else proxy?.partition();
    this.watchTakeover(i, 'cut-db');
  }

  restoreDatabase(i: number): void {
    this.down.delete(i);
    this.databaseProxies[i]?.restore();
  }

  /** Every database link restored, every node up, every takeover watch ended. */
  async heal(): Promise<void> {
    for (let i = 0; i < HUB_NODE_NAMES.length; i++) this.restoreDatabase(i);
    for (let i = 0; i < HUB_NODE_NAMES.length; i++) await this.restart(i);
    await Promise.all([...this.watches]);
  }

  /** Stops the nodes, then the proxies and PostgreSQL; harmless to call twice. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.watches]);
    await Promise.all(HUB_NODE_NAMES.map((name) => this.processes.stopHubNode(name)));
    for (const proxy of this.databaseProxies) await proxy.close();
    await this.server.stop();
  }

  private async startNode(i: number): Promise<void> {
    const node = await this.processes.startHubNode(this.name(i), [
      '--database',
      `postgres://postgres@127.0.0.1:${this.databaseProxies[i]?.port ?? 0}/shelfsync_sim`,
    ]);
    if (!this.ids.has(this.name(i))) this.ids.set(this.name(i), await this.nodeId(node.url));
  }

  private async nodeId(url: string): Promise<string> {
    return (await clusterView(url)).node;
  }

  /**
   * Polls another node's view of the cluster until every shard is live and
   * none is left with node `i`, or until `i` is back: how long its shards went unserved.
   */
  private watchTakeover(i: number, fault: Takeover['fault']): void {
    const started = Date.now();
    const id = this.ids.get(this.name(i));
    this.down.add(i);
    const watch = (async () => {
      let movedAfterMs: number | null = null;
      while (!this.closed && this.down.has(i)) {
        if (await this.othersServeShardsOf(i, id)) {
          movedAfterMs = Date.now() - started;
          break;
        }
        await delay(TAKEOVER_POLL_MS);
      }
      this.takeovers.push({ node: this.name(i), fault, movedAfterMs });
    })();
    const tracked = watch.finally(() => this.watches.delete(tracked));
    this.watches.add(tracked);
  }

  private async othersServeShardsOf(i: number, id: string | undefined): Promise<boolean> {
    const other = (i + 1) % HUB_NODE_NAMES.length;
    try {
      const { shards } = await clusterView(this.url(other));
      return shards.length > 0 && shards.every((s) => s.live && s.node !== id);
    } catch {
      return false; // the node asked is down or busy: ask again
    }
  }
}

/** A node's GET /v1/cluster, checked. */
async function clusterView(url: string): Promise<{ node: string; shards: { node: string | null; live: boolean }[] }> {
  const res = await fetch(`${url}/v1/cluster`, { signal: AbortSignal.timeout(3_000) });
  return ClusterSchema.parse(await res.json());
}
