import type { Sku } from '@shelfsync/protocol';
import { CLIENT_OWNERS_TABLE, WRITER_HEADS_TABLE, type Row } from '@shelfsync/storage-pg';
import { CommitConflict, type ClientClaim } from '@shelfsync/sync';
import type pg from 'pg';
import * as Y from 'yjs';
import { z } from 'zod';
import { ClaimSchema } from './change-rows.js';

const OwnerRowSchema = z.object({
  client: z.union([z.string().regex(/^\d+$/), z.number().int()]).transform(Number),
  writer: z.string(),
  own: z.boolean(),
});

/**
 * Reserves `claims` in the committing transaction: each id is inserted unless
 * it is there, then read back. An id held by another writer, or a second id
 * for one of the hub's keys, refuses the commit: two nodes that judged the
 * same id free on their own copies cannot both give it away.
 */
export async function claimClients(client: pg.ClientBase, log: string, claims: readonly ClientClaim[]): Promise<void> {
  if (claims.length === 0) return;
  const ids = claims.map((claim) => claim.client);
  await client.query(
    `INSERT INTO ${CLIENT_OWNERS_TABLE} (log, client, writer, own)
     SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::boolean[])
     ON CONFLICT DO NOTHING`,
    [log, ids, claims.map((claim) => claim.writer), claims.map((claim) => claim.own)],
  );
  const { rows } = await client.query<Row>(
    `SELECT client, writer, own FROM ${CLIENT_OWNERS_TABLE} WHERE log = $1 AND client = ANY($2::bigint[])`,
    [log, ids],
  );
  const held = new Map(rows.map((row) => OwnerRowSchema.parse(row)).map((row) => [row.client, row]));
  for (const claim of claims) {
    const row = held.get(claim.client);
    if (row?.writer !== claim.writer || row.own !== claim.own) {
      throw new CommitConflict(
        row === undefined
          ? `the hub key ${claim.writer} was given another client id first`
          : `client id ${claim.client} is reserved to ${row.writer}`,
      );
    }
  }
}

/** Every client id the log's registry holds. */
export async function loadClaims(pool: pg.Pool, log: string): Promise<ClientClaim[]> {
  const { rows } = await pool.query<Row>(`SELECT client, writer, own FROM ${CLIENT_OWNERS_TABLE} WHERE log = $1`, [
    log,
  ]);
  return rows.map((row) => ClaimSchema.parse(OwnerRowSchema.parse(row)));
}

/**
 * Moves each writer chain `update` extends in the SKU's document, in the
 * committing transaction: the chain's stored head must be where the update
 * starts, or another node committed other structs under those clocks first
 * (or this node's copy missed some), and the commit is refused. A chain with
 * no head yet (its first structs, or data from before the cluster) takes the
 * update's end.
 */
export async function advanceHeads(client: pg.ClientBase, log: string, sku: Sku, update: Uint8Array): Promise<void> {
  const { from, to } = Y.parseUpdateMeta(update);
  for (const [writerClient, end] of to) {
    const start = from.get(writerClient) ?? 0;
    const { rows } = await client.query<Row>(
      `INSERT INTO ${WRITER_HEADS_TABLE} AS heads (log, sku, client, clock) VALUES ($1, $2, $3, $5)
       ON CONFLICT (log, sku, client) DO UPDATE SET clock = EXCLUDED.clock WHERE heads.clock = $4
       RETURNING clock`,
      [log, sku, writerClient, start, end],
    );
    if (rows.length === 0) {
      throw new CommitConflict(
        `client ${writerClient} of ${sku} moved past clock ${start} on another node: this node's copy is read again`,
      );
    }
  }
}
