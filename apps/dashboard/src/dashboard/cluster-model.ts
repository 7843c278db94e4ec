import { ago, duration, units } from '../shared/format.js';
import type { Cluster, ClusterNode, ShardLease } from '../shared/schemas.js';

/** Node colours the stylesheet defines (`.node-0` to `.node-7`); a ninth node shares the first's. */
export const NODE_COLOURS = 8;
/** Cells the shard map draws at most: a cluster of thousands of shards would only be noise. */
export const MAX_CELLS = 1024;

export interface NodeRow {
  /** The node's name: stable across polls, so its row is updated in place. */
  readonly key: string;
  readonly url: string;
  readonly alive: boolean;
  /** The node that answered (whose `/readyz` the panel shows). */
  readonly self: boolean;
  readonly stores: string;
  readonly shards: string;
  readonly heartbeat: string;
  /** Its colour class in the shard map. */
  readonly colour: string;
}

/**
 * A shard's lease as the map draws it: `owned` live by an alive node,
 * `orphaned` live but its node stopped heartbeating, `expired` ran out
 * (nobody took it yet), `unowned` released or never taken.
 */
export type CellKind = 'owned' | 'orphaned' | 'expired' | 'unowned';

export interface ShardCell {
  readonly key: string;
  readonly kind: CellKind;
  /** The owner's colour class while `owned`, else the kind's. */
  readonly colour: string;
  readonly title: string;
}

export interface ClusterPanel {
  readonly mode: string;
  readonly summary: string;
  readonly nodes: NodeRow[];
  /** Empty when embedded: the one hub writes every SKU, and holds no lease. */
  readonly cells: ShardCell[];
  /** For screen readers, in place of the map: shards held per node. */
  readonly mapLabel: string;
}

const plural = (n: number, word: string): string => `${units(n)} ${word}${n === 1 ? '' : 's'}`;

/** Everything the Cluster panel shows, from one GET /v1/cluster answer. */
export function clusterPanel(cluster: Cluster, now: number): ClusterPanel {
  const nodes = [...cluster.nodes].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const colours = new Map(nodes.map((node, i) => [node.node, `node-${i % NODE_COLOURS}`]));
  const alive = new Set(nodes.filter((node) => node.alive).map((node) => node.node));
  const held = shardsHeld(cluster.shards);
  const cells = cluster.shards.slice(0, MAX_CELLS).map((lease) => shardCell(lease, colours, alive, now));
  return {
    mode: modeText(cluster.mode),
    summary: summaryText(cluster, alive.size),
    nodes: nodes.map((node) => nodeRow(node, cluster, held, colours, now)),
    cells,
    mapLabel: mapLabel(cluster, nodes, held),
  };
}

function modeText(mode: string): string {
  if (mode === 'embedded') return 'embedded (one hub)';
  if (mode === 'postgresql') return 'hub nodes on PostgreSQL';
  return mode;
}

/** Each node's live leases, from the shard list (for hubs that do not send `shards` per node). */
export function shardsHeld(shards: readonly ShardLease[]): Map<string, number> {
  const held = new Map<string, number>();
  for (const lease of shards) {
    if (lease.live && lease.node !== null) held.set(lease.node, (held.get(lease.node) ?? 0) + 1);
  }
  return held;
}

function summaryText(cluster: Cluster, alive: number): string {
  const sessions = plural(cluster.stores, 'store session');
  if (cluster.mode === 'embedded') return `One hub writes every SKU · ${sessions} on it`;
  const live = cluster.shards.filter((lease) => lease.live && lease.node !== null).length;
  // Every takeover raises a lease's epoch by one: their sum counts the takeovers since the cluster began.
  const taken = cluster.shards.reduce((sum, lease) => sum + lease.epoch, 0);
  return [
    `${units(alive)} of ${plural(cluster.nodes.length, 'node')} alive`,
    `${units(live)} of ${plural(cluster.shardCount, 'shard')} held`,
    `${plural(taken, 'lease')} taken since the cluster began`,
    `${sessions} on the node that answered`,
  ].join(' · ');
}

function nodeRow(
  node: ClusterNode,
  cluster: Cluster,
  held: ReadonlyMap<string, number>,
  colours: ReadonlyMap<string, string>,
  now: number,
): NodeRow {
  const self = node.node === cluster.node;
  // Hubs before per-node figures: the answering node's sessions are known, the others' are not.
  const stores = node.stores ?? (self ? cluster.stores : undefined);
  return {
    key: node.node,
    url: node.url ?? '–',
    alive: node.alive,
    self,
    stores: stores === undefined ? '–' : units(stores),
    shards: units(node.shards ?? held.get(node.node) ?? 0),
    heartbeat: ago(Date.parse(node.heartbeatAt), now),
    colour: colours.get(node.node) ?? 'node-0',
  };
}

function shardCell(
  lease: ShardLease,
  colours: ReadonlyMap<string, string>,
  alive: ReadonlySet<string>,
  now: number,
): ShardCell {
  const kind = cellKind(lease, alive);
  const epoch = `epoch ${lease.epoch}`;
  const expiresAt = Date.parse(lease.expiresAt);
  // The database's clock against the browser's: a second off reads as "now", not as a negative time.
  const until = expiresAt - now >= 1000 ? `in ${duration(expiresAt - now)}` : 'now';
  const head = `shard ${lease.shard}`;
  const titles: Record<CellKind, () => string> = {
    owned: () => `${head}: ${lease.node} (${epoch}), expires ${until}`,
    orphaned: () => `${head}: ${lease.node}, not heartbeating (${epoch}), expires ${until}`,
    expired: () => `${head}: ${lease.node}'s lease (${epoch}) expired ${ago(expiresAt, now)}`,
    unowned: () => `${head}: unowned (${epoch})`,
  };
  return {
    key: String(lease.shard),
    kind,
    colour: kind === 'owned' ? (colours.get(lease.node ?? '') ?? 'node-0') : `cell-${kind}`,
    title: titles[kind](),
  };
}

function cellKind(lease: ShardLease, alive: ReadonlySet<string>): CellKind {
  if (lease.node === null) return 'unowned';
  if (!lease.live) return 'expired';
  return alive.has(lease.node) ? 'owned' : 'orphaned';
}

function mapLabel(cluster: Cluster, nodes: readonly ClusterNode[], held: ReadonlyMap<string, number>): string {
  const owners = nodes.filter((node) => (held.get(node.node) ?? 0) > 0);
  const parts = owners.map((node) => `${node.node} ${held.get(node.node) ?? 0}`);
  const free = cluster.shardCount - [...held.values()].reduce((sum, n) => sum + n, 0);
  if (free > 0) parts.push(`${units(free)} without a live lease`);
  const shown = cluster.shards.length > MAX_CELLS ? ` (the first ${units(MAX_CELLS)} drawn)` : '';
  return `Shard map, ${plural(cluster.shardCount, 'shard')}${shown}: ${parts.join(', ')}`;
}

/** The answering node's readiness (`/readyz`): 200, 503 (no lease, or no database), or no answer yet. */
export function readinessText(ready: boolean | null): { text: string; kind: 'ok' | 'bad' | 'wait' } {
  if (ready === true) return { text: 'This node is ready: it takes writes', kind: 'ok' };
  if (ready === false) {
    return { text: 'This node is not ready: it holds no shard lease or cannot reach its database', kind: 'bad' };
  }
  return { text: 'Checking whether this node is ready…', kind: 'wait' };
}

/** Why the last GET /v1/cluster failed, for the panel (`status` 0: no answer). */
export function clusterProblemText(status: number, message: string): string {
  if (status === 404) return 'This hub does not report its cluster (an older release)';
  if (status === 0) return 'The hub does not answer: showing the cluster as last seen';
  return `The cluster view failed: ${message}`;
}
