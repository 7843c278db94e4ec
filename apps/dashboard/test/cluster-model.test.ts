import { describe, expect, it } from 'vitest';
import {
  clusterPanel,
  clusterProblemText,
  MAX_CELLS,
  readinessText,
  shardsHeld,
} from '../src/dashboard/cluster-model.js';
import { ClusterSchema, type Cluster, type ClusterNode, type ShardLease } from '../src/shared/schemas.js';

const NOW = Date.parse('2026-05-01T12:00:00Z');
const at = (offsetMs: number): string => new Date(NOW + offsetMs).toISOString();
const node = (name: string, over: Partial<ClusterNode> = {}): ClusterNode => ({
  node: name,
  url: `http://${name}:8080`,
  startedAt: at(-60_000),
  heartbeatAt: at(-500),
  alive: true,
  ...over,
});
const lease = (shard: number, owner: string | null, over: Partial<ShardLease> = {}): ShardLease => ({
  shard,
  node: owner,
  epoch: 1,
  expiresAt: at(3_000),
  live: owner !== null,
  ...over,
});

/** Three nodes on the database: `b` answered, `c` died with one lease still live and one run out. */
const cluster: Cluster = {
  mode: 'postgresql',
  node: 'b',
  stores: 4,
  shardCount: 6,
  nodes: [
    node('c', { alive: false, heartbeatAt: at(-12_000), stores: 0, shards: 1 }),
    node('a', { stores: 7, shards: 2 }),
    node('b', { url: null, stores: 4, shards: 1 }),
  ],
  shards: [
    lease(0, 'a'),
    lease(1, 'a', { epoch: 3 }),
    lease(2, 'b', { epoch: 2 }),
    lease(3, 'c', { expiresAt: at(1_500) }),
    lease(4, 'c', { live: false, expiresAt: at(-4_000) }),
    lease(5, null, { epoch: 2, live: false, expiresAt: at(-9_000) }),
  ],
};

describe('cluster panel', () => {
  it('lists the nodes by name with their sessions, shards, state and heartbeat age, marking the one that answered', () => {
    const panel = clusterPanel(cluster, NOW);
    expect(panel.mode).toBe('hub nodes on PostgreSQL');
    expect(panel.nodes).toEqual([
      {
        key: 'a',
        url: 'http://a:8080',
        alive: true,
        self: false,
        stores: '7',
        shards: '2',
        heartbeat: 'now',
        colour: 'node-0',
      },
      { key: 'b', url: '–', alive: true, self: true, stores: '4', shards: '1', heartbeat: 'now', colour: 'node-1' },
      {
        key: 'c',
        url: 'http://c:8080',
        alive: false,
        self: false,
        stores: '0',
        shards: '1',
        heartbeat: '12 s ago',
        colour: 'node-2',
      },
    ]);
    expect(panel.summary).toBe(
      '2 of 3 nodes alive · 4 of 6 shards held · 10 leases taken since the cluster began · 4 store sessions on the node that answered',
    );
  });

  it('colours each shard by its owner, and sets dead owners, expired and unowned leases apart', () => {
    const panel = clusterPanel(cluster, NOW);
    expect(panel.cells.map((c) => [c.key, c.kind, c.colour])).toEqual([
      ['0', 'owned', 'node-0'],
      ['1', 'owned', 'node-0'],
      ['2', 'owned', 'node-1'],
      ['3', 'orphaned', 'cell-orphaned'],
      ['4', 'expired', 'cell-expired'],
      ['5', 'unowned', 'cell-unowned'],
    ]);
    expect(panel.cells.map((c) => c.title)).toEqual([
      'shard 0: a (epoch 1), expires in 3 s',
      'shard 1: a (epoch 3), expires in 3 s',
      'shard 2: b (epoch 2), expires in 3 s',
      'shard 3: c, not heartbeating (epoch 1), expires in 2 s',
      "shard 4: c's lease (epoch 1) expired 4 s ago",
      'shard 5: unowned (epoch 2)',
    ]);
    expect(panel.mapLabel).toBe('Shard map, 6 shards: a 2, b 1, c 1, 2 without a live lease');
  });

  it('counts shards from the lease list for a hub that does not send them per node', () => {
    const older = {
      ...cluster,
      nodes: cluster.nodes.map(({ node: name, url, startedAt, heartbeatAt, alive }) => ({
        node: name,
        url,
        startedAt,
        heartbeatAt,
        alive,
      })),
    };
    expect(shardsHeld(older.shards)).toEqual(
      new Map([
        ['a', 2],
        ['b', 1],
        ['c', 1],
      ]),
    );
    const rows = clusterPanel(older, NOW).nodes;
    expect(rows.map((r) => [r.key, r.shards, r.stores])).toEqual([
      ['a', '2', '–'],
      ['b', '1', '4'],
      ['c', '1', '–'],
    ]);
  });

  it('shows the embedded hub as one node with no shard map', () => {
    const embedded = ClusterSchema.parse({
      mode: 'embedded',
      node: 'hub-host',
      stores: 1,
      shardCount: 0,
      nodes: [
        { node: 'hub-host', url: null, startedAt: at(-1_000), heartbeatAt: at(0), alive: true, stores: 1, shards: 0 },
      ],
      shards: [],
    });
    const panel = clusterPanel(embedded, NOW);
    expect(panel.mode).toBe('embedded (one hub)');
    expect(panel.summary).toBe('One hub writes every SKU · 1 store session on it');
    expect(panel.cells).toEqual([]);
    expect(panel.nodes).toMatchObject([{ key: 'hub-host', self: true, alive: true, stores: '1', shards: '0' }]);
  });

  it('shares colours among more nodes than the palette has, and draws a huge cluster’s first shards only', () => {
    const names = Array.from({ length: 10 }, (_, i) => `n${String(i).padStart(2, '0')}`);
    const many: Cluster = {
      ...cluster,
      shardCount: 2_000,
      nodes: names.map((name) => node(name)),
      shards: Array.from({ length: 2_000 }, (_, i) => lease(i, names[i % 10] ?? null)),
    };
    const panel = clusterPanel(many, NOW);
    expect(panel.nodes.map((n) => n.colour).slice(7)).toEqual(['node-7', 'node-0', 'node-1']);
    expect(panel.cells).toHaveLength(MAX_CELLS);
    expect(panel.mapLabel).toMatch(/^Shard map, 2,000 shards \(the first 1,024 drawn\): n00 200, /);
  });

  it('tolerates fields and modes a newer hub adds', () => {
    const parsed = ClusterSchema.safeParse({ ...cluster, mode: 'federated', extra: true });
    expect(parsed.success).toBe(true);
    if (parsed.success) expect(clusterPanel(parsed.data, NOW).mode).toBe('federated');
  });
});

describe('cluster readiness and failures', () => {
  it('says when the answering node is not ready, and why a cluster read failed', () => {
    expect(readinessText(true)).toEqual({ text: 'This node is ready: it takes writes', kind: 'ok' });
    expect(readinessText(false).kind).toBe('bad');
    expect(readinessText(false).text).toMatch(/holds no shard lease or cannot reach its database/);
    expect(readinessText(null).kind).toBe('wait');
    expect(clusterProblemText(404, 'not found')).toMatch(/does not report its cluster/);
    expect(clusterProblemText(0, 'no answer')).toMatch(/does not answer/);
    expect(clusterProblemText(500, 'boom')).toBe('The cluster view failed: boom');
  });
});
