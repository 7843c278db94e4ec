import {
  HUB_NODES_TABLE,
  inTransaction,
  SHARD_CLUSTERS_TABLE,
  SHARD_LEASES_TABLE,
  type Row,
} from '@shelfsync/storage-pg';
import type pg from 'pg';
import { z } from 'zod';
import { ShardCountMismatch } from './lease-errors.js';

/** pg hands bigint columns over as strings; epochs stay far below 2^53. */
const Int8Schema = z
  .union([z.string().regex(/^\d+$/), z.number().int()])
  .transform(Number)
  .pipe(z.number().int().min(0));
const ShardSchema = z.number().int().min(0);
const HeldRowSchema = z.object({ shard: ShardSchema, epoch: Int8Schema });
const LeaseRowSchema = z.object({
  shard: ShardSchema,
  node: z.string().nullable(),
  epoch: Int8Schema,
  live: z.boolean(),
});
const ShardsRowSchema = z.object({ shards: z.number().int().min(1) });
const NodeRowSchema = z.object({ node: z.string() });
const ViewNodeSchema = z.object({
  node: z.string(),
  url: z.string().nullable(),
  started_at: z.date(),
  heartbeat_at: z.date(),
  alive: z.boolean(),
  stores: z.number().int().min(0),
});
const ViewShardSchema = z.object({
  shard: ShardSchema,
  node: z.string().nullable(),
  epoch: Int8Schema,
  expires_at: z.date(),
  live: z.boolean(),
});

/** A lease as this node holds it. */
export interface Held {
  readonly shard: number;
  readonly epoch: number;
}

export type LeaseRow = z.infer<typeof LeaseRowSchema>;

/** `$n` milliseconds after the database's clock now (not the transaction's start). */
const fromNow = (param: string): string => `clock_timestamp() + ${param} * interval '1 millisecond'`;

/**
 * Records the cluster's shard count on its first open and creates its lease
 * rows (unowned, epoch 0); refuses a node opened with another count.
 */
export async function ensureCluster(pool: pg.Pool, cluster: string, shards: number): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query(
      `INSERT INTO ${SHARD_CLUSTERS_TABLE} (cluster, shards) VALUES ($1, $2) ON CONFLICT (cluster) DO NOTHING`,
      [cluster, shards],
    );
    const { rows } = await client.query<Row>(`SELECT shards FROM ${SHARD_CLUSTERS_TABLE} WHERE cluster = $1`, [
      cluster,
    ]);
    const { shards: expected } = ShardsRowSchema.parse(rows[0]);
    if (expected !== shards) throw new ShardCountMismatch(cluster, shards, expected);
    await client.query(
      `INSERT INTO ${SHARD_LEASES_TABLE} (cluster, shard, node, epoch, expires_at)
       SELECT $1, s, NULL, 0, to_timestamp(0) FROM generate_series(0, $2::int - 1) s
       ON CONFLICT (cluster, shard) DO NOTHING`,
      [cluster, shards],
    );
  }).catch((error: unknown) => {
    // The refusal is the caller's answer, not a failed transaction.
    throw error instanceof Error && error.cause instanceof ShardCountMismatch ? error.cause : error;
  });
}

/**
 * Registers this process as `node` (a process started earlier under the same
 * name is replaced: it stands down at its next heartbeat) and forgets nodes
 * that left or went silent long ago.
 */
export async function register(
  pool: pg.Pool,
  cluster: string,
  node: string,
  instance: string,
  url: string | null,
  forgetAfterMs: number,
): Promise<void> {
  await pool.query(
    `INSERT INTO ${HUB_NODES_TABLE} (cluster, node, instance, url, started_at, heartbeat_at)
     VALUES ($1, $2, $3, $4, clock_timestamp(), clock_timestamp())
     ON CONFLICT (cluster, node) DO UPDATE SET instance = EXCLUDED.instance, url = EXCLUDED.url,
       started_at = EXCLUDED.started_at, heartbeat_at = EXCLUDED.heartbeat_at, left_at = NULL, stores = 0`,
    [cluster, node, instance, url],
  );
  await pool.query(
    `DELETE FROM ${HUB_NODES_TABLE} WHERE cluster = $1
     AND coalesce(left_at, heartbeat_at) < clock_timestamp() - $2 * interval '1 millisecond'`,
    [cluster, forgetAfterMs],
  );
}

/**
 * Marks this process alive now, with its live store sessions (null keeps the
 * last count); false when another process registered under its name since.
 */
export async function heartbeat(
  pool: pg.Pool,
  cluster: string,
  node: string,
  instance: string,
  stores: number | null,
): Promise<boolean> {
  const { rowCount } = await pool.query(
    `UPDATE ${HUB_NODES_TABLE} SET heartbeat_at = clock_timestamp(), left_at = NULL, stores = coalesce($4, stores)
     WHERE cluster = $1 AND node = $2 AND instance = $3`,
    [cluster, node, instance, stores],
  );
  return rowCount === 1;
}

/** Records where this process serves, once it knows (a node started on port 0 learns it after listening). */
export async function advertise(
  pool: pg.Pool,
  cluster: string,
  node: string,
  instance: string,
  url: string,
): Promise<void> {
  await pool.query(`UPDATE ${HUB_NODES_TABLE} SET url = $4 WHERE cluster = $1 AND node = $2 AND instance = $3`, [
    cluster,
    node,
    instance,
    url,
  ]);
}

/** Marks this process gone, so other nodes stop counting it (and its store sessions) at once. */
export async function leave(pool: pg.Pool, cluster: string, node: string, instance: string): Promise<void> {
  await pool.query(
    `UPDATE ${HUB_NODES_TABLE} SET left_at = clock_timestamp(), stores = 0
     WHERE cluster = $1 AND node = $2 AND instance = $3`,
    [cluster, node, instance],
  );
}

/**
 * Extends the leases this node holds at the epochs it holds them, expired or
 * not (an unchanged epoch means nobody took over); returns those extended.
 * It moves no key column, so writes holding their check's lock do not hold it
 * up; the lock timeout bounds a wait behind a takeover in progress.
 */
export async function renew(
  pool: pg.Pool,
  cluster: string,
  node: string,
  held: readonly Held[],
  leaseMs: number,
  lockTimeoutMs: number,
): Promise<Held[]> {
  if (held.length === 0) return [];
  return inTransaction(pool, async (client) => {
    await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${Math.max(1, Math.round(lockTimeoutMs))}ms`]);
    const { rows } = await client.query<Row>(
      `UPDATE ${SHARD_LEASES_TABLE} l SET expires_at = ${fromNow('$5')}
       FROM unnest($3::int[], $4::bigint[]) AS h(shard, epoch)
       WHERE l.cluster = $1 AND l.node = $2 AND l.shard = h.shard AND l.epoch = h.epoch
       RETURNING l.shard, l.epoch`,
      [cluster, node, held.map((h) => h.shard), held.map((h) => h.epoch), leaseMs],
    );
    return rows.map((row) => HeldRowSchema.parse(row));
  });
}

/** The nodes heartbeating within `leaseMs`, and every lease of the cluster. */
export async function readCluster(
  pool: pg.Pool,
  cluster: string,
  leaseMs: number,
): Promise<{ alive: string[]; leases: LeaseRow[] }> {
  const nodes = await pool.query<Row>(
    `SELECT node FROM ${HUB_NODES_TABLE} WHERE cluster = $1 AND left_at IS NULL
     AND heartbeat_at > clock_timestamp() - $2 * interval '1 millisecond'`,
    [cluster, leaseMs],
  );
  const leases = await pool.query<Row>(
    `SELECT shard, node, epoch, node IS NOT NULL AND expires_at > clock_timestamp() AS live
     FROM ${SHARD_LEASES_TABLE} WHERE cluster = $1 ORDER BY shard`,
    [cluster],
  );
  return {
    alive: nodes.rows.map((row) => NodeRowSchema.parse(row).node),
    leases: leases.rows.map((row) => LeaseRowSchema.parse(row)),
  };
}

/**
 * Takes up to `count` unowned or expired shards under a raised epoch. SKIP
 * LOCKED: nodes taking at once split the free shards instead of waiting on
 * each other, and a shard whose old owner still has a write in flight (its
 * check holds the row FOR KEY SHARE) is left for a later round. Anything that
 * changes a lease's owner must raise its epoch like this, never move `node` alone.
 */
export async function take(
  pool: pg.Pool,
  cluster: string,
  node: string,
  count: number,
  leaseMs: number,
): Promise<Held[]> {
  if (count <= 0) return [];
  const { rows } = await pool.query<Row>(
    `UPDATE ${SHARD_LEASES_TABLE} l SET node = $2, epoch = l.epoch + 1, expires_at = ${fromNow('$4')}
     FROM (SELECT shard FROM ${SHARD_LEASES_TABLE}
           WHERE cluster = $1 AND (node IS NULL OR expires_at <= clock_timestamp())
           ORDER BY node IS NOT NULL, shard LIMIT $3 FOR UPDATE SKIP LOCKED) free
     WHERE l.cluster = $1 AND l.shard = free.shard
     RETURNING l.shard, l.epoch`,
    [cluster, node, count, leaseMs],
  );
  return rows.map((row) => HeldRowSchema.parse(row));
}

/**
 * Gives leases up at once: unowned, expired, epoch kept (the next owner
 * raises it, which waits for this node's writes in flight). Moves no key
 * column, so it does not wait for those writes itself; returns the shards
 * given up.
 */
export async function release(pool: pg.Pool, cluster: string, node: string, held: readonly Held[]): Promise<number[]> {
  if (held.length === 0) return [];
  const { rows } = await pool.query<Row>(
    `UPDATE ${SHARD_LEASES_TABLE} l SET node = NULL, expires_at = clock_timestamp()
     FROM unnest($3::int[], $4::bigint[]) AS h(shard, epoch)
     WHERE l.cluster = $1 AND l.node = $2 AND l.shard = h.shard AND l.epoch = h.epoch
     RETURNING l.shard, l.epoch`,
    [cluster, node, held.map((h) => h.shard), held.map((h) => h.epoch)],
  );
  return rows.map((row) => HeldRowSchema.parse(row).shard);
}

/**
 * The shard's lease row, locked FOR KEY SHARE until the caller's transaction
 * ends: a takeover's epoch raise (a key update) waits for it; renewals do not.
 */
export async function leaseForShare(
  client: pg.ClientBase,
  cluster: string,
  shard: number,
): Promise<LeaseRow | undefined> {
  const { rows } = await client.query<Row>(
    `SELECT shard, node, epoch, node IS NOT NULL AND expires_at > clock_timestamp() AS live
     FROM ${SHARD_LEASES_TABLE} WHERE cluster = $1 AND shard = $2 FOR KEY SHARE`,
    [cluster, shard],
  );
  return rows[0] === undefined ? undefined : LeaseRowSchema.parse(rows[0]);
}
export interface ClusterView {
  readonly cluster: string;
  readonly shardCount: number;
  /** `stores`: the node's live store sessions as of its last heartbeat (0 once it is not alive). */
  readonly nodes: readonly {
    node: string;
    url: string | null;
    startedAt: Date;
    heartbeatAt: Date;
    alive: boolean;
    stores: number;
  }[];
  readonly shards: readonly { shard: number; node: string | null; epoch: number; expiresAt: Date; live: boolean }[];
}

/** The cluster as the database has it now, for operators. */
export async function clusterView(
  pool: pg.Pool,
  cluster: string,
  shardCount: number,
  leaseMs: number,
): Promise<ClusterView> {
  // A node that is not alive holds no sessions, whatever it last reported: its stores are reconnecting elsewhere.
  const nodes = await pool.query<Row>(
    `SELECT node, url, started_at, heartbeat_at, alive, CASE WHEN alive THEN stores ELSE 0 END AS stores
     FROM (SELECT *, left_at IS NULL AND heartbeat_at > clock_timestamp() - $2 * interval '1 millisecond' AS alive
           FROM ${HUB_NODES_TABLE} WHERE cluster = $1) n
     ORDER BY node`,
    [cluster, leaseMs],
  );
  const shards = await pool.query<Row>(
    `SELECT shard, node, epoch, expires_at, node IS NOT NULL AND expires_at > clock_timestamp() AS live
     FROM ${SHARD_LEASES_TABLE} WHERE cluster = $1 ORDER BY shard`,
    [cluster],
  );
  return {
    cluster,
    shardCount,
    nodes: nodes.rows.map((row) => {
      const { node, url, started_at, heartbeat_at, alive, stores } = ViewNodeSchema.parse(row);
      return { node, url, startedAt: started_at, heartbeatAt: heartbeat_at, alive, stores };
    }),
    shards: shards.rows.map((row) => {
      const { shard, node, epoch, expires_at, live } = ViewShardSchema.parse(row);
      return { shard, node, epoch, expiresAt: expires_at, live };
    }),
  };
}
