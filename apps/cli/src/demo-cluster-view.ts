import { ClusterSchema } from '@shelfsync/protocol';
import type { z } from 'zod';
import type { ChildCommand } from './processes.js';

export type ClusterView = z.infer<typeof ClusterSchema>;

/** The demo's hub nodes by name (a, b, c); a killed node leaves until restarted. */
export type HubNodes = Map<string, ChildCommand>;

/** GET /v1/cluster of the first running node that answers; null when none does. */
export async function readClusterView(nodes: HubNodes): Promise<ClusterView | null> {
  for (const node of nodes.values()) {
    try {
      const res = await fetch(`${node.url}/v1/cluster`, { signal: AbortSignal.timeout(5_000) });
      if (res.status === 200) return ClusterSchema.parse(await res.json());
      await res.arrayBuffer();
    } catch {
      // Not answering (stopping, or killed): ask the next node.
    }
  }
  return null;
}

/** A node's name here (a, b, c) from the URL it registered with, by port; its id when unknown. */
function nameOf(url: string | null, id: string, ports: ReadonlyMap<number, string>): string {
  const port = url === null ? NaN : Number(new URL(url).port);
  return ports.get(port) ?? id;
}

/** The cluster as a few lines: each node's address, shards and store sessions, and the shards without a live owner. */
export function describeCluster(view: ClusterView | null, ports: ReadonlyMap<number, string>): string[] {
  if (view === null) return ['  cluster: no hub node answered GET /v1/cluster'];
  const unowned = view.shards.filter((shard) => !shard.live || shard.node === null).length;
  return [
    `  cluster: ${view.nodes.filter((n) => n.alive).length} live nodes, ${view.shardCount} shards (${unowned} without a live owner)`,
    ...[...view.nodes]
      .sort((x, y) => (x.url ?? '').localeCompare(y.url ?? '') || Number(y.alive) - Number(x.alive))
      .map(
        (n) =>
          `    node ${nameOf(n.url, n.node, ports).padEnd(2)} ${(n.url ?? '').padEnd(22)} ${n.alive ? 'alive' : 'gone '}  shards ${String(n.shards).padStart(3)}  store sessions ${n.stores}   (${n.node})`,
      ),
  ];
}

/** The ports of the demo's nodes, to name the nodes `/v1/cluster` lists. */
export function portNames(nodes: HubNodes): Map<number, string> {
  return new Map([...nodes].map(([name, node]) => [Number(new URL(node.url).port), name]));
}

/** Whether every shard has a live owner among `alive` nodes, and `spread` of them own some. */
export function settled(view: ClusterView | null, alive: number, spread: number): boolean {
  if (view === null) return false;
  const owners = new Set(view.shards.filter((s) => s.live && s.node !== null).map((s) => s.node));
  return (
    view.nodes.filter((n) => n.alive).length === alive &&
    view.shards.every((s) => s.live && s.node !== null) &&
    owners.size >= spread
  );
}

/** Polls the view until `condition` holds, `timeoutMs` passes or the demo stops; resolves to whether it held. */
export async function waitForView(
  nodes: HubNodes,
  timeoutMs: number,
  condition: (view: ClusterView | null) => boolean,
  cancelled: () => boolean = () => false,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !cancelled()) {
    if (condition(await readClusterView(nodes))) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

/**
 * Reads the view every 5 s and keeps the last one answered, so the summary
 * after Ctrl-C (when the terminal has signalled the nodes and the database
 * too) still shows where things stood.
 */
export function keepClusterView(nodes: HubNodes): { describe(): Promise<string[]>; stop(): void } {
  let last: { view: ClusterView; at: Date } | null = null;
  const timer = setInterval(() => {
    void readClusterView(nodes).then((view) => {
      if (view !== null) last = { view, at: new Date() };
    });
  }, 5_000);
  return {
    describe: async () => {
      const now = await readClusterView(nodes);
      if (now !== null || last === null) return describeCluster(now, portNames(nodes));
      return [
        `  (as of ${last.at.toISOString()}: no node answers now)`,
        ...describeCluster(last.view, portNames(nodes)),
      ];
    },
    stop: () => clearInterval(timer),
  };
}
