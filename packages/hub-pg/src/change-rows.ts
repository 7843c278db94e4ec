import { SkuSchema, WriterKeySchema, type Sku } from '@shelfsync/protocol';
import { bytesColumn, CHANGE_HEADS_TABLE, CHANGE_LOG_TABLE, type Row } from '@shelfsync/storage-pg';
import type { ClientClaim, HubChange } from '@shelfsync/sync';
import type pg from 'pg';
import { z } from 'zod';

/** pg hands bigint columns over as strings; change numbers and times stay far below 2^53. */
const Int8Schema = z
  .union([z.string().regex(/^-?\d+$/), z.number().int()])
  .transform(Number)
  .pipe(z.number().int());
const HeadRowSchema = z.object({ epoch: z.string().min(1), head: Int8Schema.pipe(z.number().min(0)) });
const LatestRowSchema = z.object({ sku: SkuSchema, seq: Int8Schema.pipe(z.number().min(1)), at: Int8Schema });
export const ClaimSchema = z.strictObject({
  client: z.int().min(0).max(0xffff_ffff),
  writer: WriterKeySchema,
  own: z.boolean(),
});
const OriginSchema = z.object({
  node: z.string().nullable(),
  claims: z.array(ClaimSchema).nullable(),
});

/** A committed change as the log holds it. */
export interface ChangeRow {
  readonly sku: Sku;
  readonly change: HubChange;
  readonly update: Uint8Array;
  /** The log instance that committed it (null for rows written without one). */
  readonly node: string | null;
  /** The client ids its commit reserved, which the other nodes learn with it. */
  readonly claims: readonly ClientClaim[];
}

/** Who commits a change: the instance, and the client ids the change reserves. */
export interface ChangeOrigin {
  readonly node: string;
  readonly claims: readonly ClientClaim[];
}

/** Creates the log's counter row with `epoch` unless it exists; returns the row as stored. */
export async function ensureHead(pool: pg.Pool, log: string, epoch: string): Promise<{ epoch: string; head: number }> {
  await pool.query(
    `INSERT INTO ${CHANGE_HEADS_TABLE} (log, epoch, head) VALUES ($1, $2, 0) ON CONFLICT (log) DO NOTHING`,
    [log, epoch],
  );
  const { rows } = await pool.query<Row>(`SELECT epoch, head FROM ${CHANGE_HEADS_TABLE} WHERE log = $1`, [log]);
  return HeadRowSchema.parse(rows[0]);
}

/**
 * Each SKU's latest change numbered at most `head`, in change order. Every
 * change up to a head read earlier is committed (numbers become visible as a
 * prefix), so this is a consistent picture of the log at `head`.
 */
export async function latestChanges(pool: pg.Pool, log: string, head: number): Promise<[Sku, HubChange][]> {
  const { rows } = await pool.query<Row>(
    `SELECT sku, seq, at FROM (
       SELECT DISTINCT ON (sku) sku, seq, at FROM ${CHANGE_LOG_TABLE}
       WHERE log = $1 AND seq <= $2 ORDER BY sku, seq DESC
     ) latest ORDER BY seq`,
    [log, head],
  );
  return rows.map((row) => {
    const { sku, seq, at } = LatestRowSchema.parse(row);
    return [sku, { seq, at }];
  });
}

/**
 * Takes the log's next number and inserts the change under it, in `client`'s
 * transaction, in one statement: the counter row stays locked until the
 * transaction ends, so the fewer round trips after it, the less other commits wait.
 */
export async function appendChange(
  client: pg.ClientBase,
  log: string,
  sku: Sku,
  at: number,
  update: Uint8Array,
  origin: ChangeOrigin,
): Promise<number> {
  const { rows } = await client.query<Row>(
    `WITH taken AS (UPDATE ${CHANGE_HEADS_TABLE} SET head = head + 1 WHERE log = $1 RETURNING head)
     INSERT INTO ${CHANGE_LOG_TABLE} (log, seq, sku, at, update, node, claims)
     SELECT $1, head, $2, $3, $4, $5, $6 FROM taken
     RETURNING seq AS head`,
    [
      log,
      sku,
      at,
      Buffer.from(update.buffer, update.byteOffset, update.byteLength),
      origin.node,
      origin.claims.length === 0 ? null : JSON.stringify(origin.claims),
    ],
  );
  if (rows[0] === undefined) throw new Error(`change log ${log} has no counter row`);
  return HeadRowSchema.shape.head.parse(rows[0]['head']);
}

/** Up to `limit` changes numbered above `after`, in number order. */
export async function changesAfter(pool: pg.Pool, log: string, after: number, limit: number): Promise<ChangeRow[]> {
  const { rows } = await pool.query<Row>(
    `SELECT seq, sku, at, update, node, claims FROM ${CHANGE_LOG_TABLE} WHERE log = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
    [log, after, limit],
  );
  return rows.map((row) => {
    const { sku, seq, at } = LatestRowSchema.parse(row);
    const { node, claims } = OriginSchema.parse(row);
    return { sku, change: { seq, at }, update: bytesColumn(row, 'update'), node, claims: claims ?? [] };
  });
}
