import { OWNER_REQUESTS_TABLE, type Row } from '@shelfsync/storage-pg';
import type pg from 'pg';
import { z } from 'zod';

const T = OWNER_REQUESTS_TABLE;

/** A request as an owner runs it. */
export interface OwnerRequest {
  readonly id: string;
  readonly shard: number;
  readonly kind: string;
  readonly body: unknown;
}

/** pg hands int columns over as numbers, bigint ones as strings: accept either. */
const IntSchema = z
  .union([z.string().regex(/^\d+$/), z.number().int()])
  .transform(Number)
  .pipe(z.number().int().min(0));

const ClaimedRowSchema = z.object({
  id: z.string().min(1),
  shard: IntSchema,
  kind: z.string(),
  body: z.unknown(),
});

const OutcomeRowSchema = z.object({
  id: z.string().min(1),
  state: z.enum(['pending', 'claimed', 'answered', 'failed']),
  answer: z.unknown(),
  error: z.string().nullable(),
});

const ExistingRowSchema = OutcomeRowSchema.extend({ same: z.boolean() });

/** Where a request stands: still to be answered, or its answer (or the owner's error). */
export type Outcome =
  | { readonly state: 'pending' | 'claimed' }
  | { readonly state: 'answered'; readonly answer: unknown }
  | { readonly state: 'failed'; readonly error: string };

function outcomeOf(row: z.infer<typeof OutcomeRowSchema>): Outcome {
  if (row.state === 'answered') return { state: 'answered', answer: row.answer ?? null };
  if (row.state === 'failed') return { state: 'failed', error: row.error ?? 'the request failed' };
  return { state: row.state };
}

const claimedRows = (rows: readonly Row[]): OwnerRequest[] => rows.map((row) => ClaimedRowSchema.parse(row));

/**
 * Records `request` unless its id is known. Returns where the stored request
 * stands and whether this call created it; null when the id's row vanished
 * between the two statements (withdrawn by another asker): try again.
 * Throws when the id is known with another shard, kind or body.
 */
export async function submit(
  pool: pg.Pool,
  cluster: string,
  request: OwnerRequest,
  body: string,
): Promise<{ readonly created: boolean; readonly outcome: Outcome } | null> {
  const inserted = await pool.query(
    `INSERT INTO ${T} (cluster, id, shard, kind, body, state) VALUES ($1, $2, $3, $4, $5::jsonb, 'pending')
     ON CONFLICT (cluster, id) DO NOTHING`,
    [cluster, request.id, request.shard, request.kind, body],
  );
  if (inserted.rowCount === 1) return { created: true, outcome: { state: 'pending' } };
  const { rows } = await pool.query<Row>(
    `SELECT id, state, answer, error, (shard = $3 AND kind = $4 AND body = $5::jsonb) AS same
     FROM ${T} WHERE cluster = $1 AND id = $2`,
    [cluster, request.id, request.shard, request.kind, body],
  );
  if (rows[0] === undefined) return null;
  const row = ExistingRowSchema.parse(rows[0]);
  if (!row.same) {
    throw new TypeError(`request ${JSON.stringify(request.id)} was asked before with another shard, kind or body`);
  }
  return { created: false, outcome: outcomeOf(row) };
}

/** Where each of `ids` stands; an id missing from the map has no row. */
export async function outcomes(pool: pg.Pool, cluster: string, ids: readonly string[]): Promise<Map<string, Outcome>> {
  const { rows } = await pool.query<Row>(
    `SELECT id, state, answer, error FROM ${T} WHERE cluster = $1 AND id = ANY($2::text[])`,
    [cluster, ids],
  );
  return new Map(rows.map((raw) => OutcomeRowSchema.parse(raw)).map((row) => [row.id, outcomeOf(row)]));
}

/** Deletes the request if nobody claimed it yet: true when it is gone for good (from this ask). */
export async function withdraw(pool: pg.Pool, cluster: string, id: string): Promise<boolean> {
  const result = await pool.query(`DELETE FROM ${T} WHERE cluster = $1 AND id = $2 AND state = 'pending'`, [
    cluster,
    id,
  ]);
  return result.rowCount === 1;
}

/** The shards with pending requests of `kinds`. */
export async function pendingShards(pool: pg.Pool, cluster: string, kinds: readonly string[]): Promise<number[]> {
  const { rows } = await pool.query<Row>(
    `SELECT DISTINCT shard FROM ${T} WHERE cluster = $1 AND state = 'pending' AND kind = ANY($2::text[])`,
    [cluster, kinds],
  );
  return rows.map((row) => IntSchema.parse(row.shard));
}

/**
 * Claims up to `limit` pending requests of `shards` and `kinds`, oldest first.
 * SKIP LOCKED: rows another claimer (or a withdrawing asker) holds are left to it.
 */
export async function claimPending(
  pool: pg.Pool,
  cluster: string,
  node: string,
  shards: readonly number[],
  kinds: readonly string[],
  limit: number,
): Promise<OwnerRequest[]> {
  const { rows } = await pool.query<Row>(
    `UPDATE ${T} r SET state = 'claimed', claimed_by = $2
     FROM (SELECT cluster, id FROM ${T}
           WHERE cluster = $1 AND state = 'pending' AND shard = ANY($3::int[]) AND kind = ANY($4::text[])
           ORDER BY created_at LIMIT $5 FOR UPDATE SKIP LOCKED) picked
     WHERE r.cluster = picked.cluster AND r.id = picked.id
     RETURNING r.id, r.shard, r.kind, r.body`,
    [cluster, node, shards, kinds, limit],
  );
  return claimedRows(rows);
}

/** Claims one request by id if it is still pending. */
export async function claimOne(pool: pg.Pool, cluster: string, node: string, id: string): Promise<OwnerRequest[]> {
  const { rows } = await pool.query<Row>(
    `UPDATE ${T} SET state = 'claimed', claimed_by = $3 WHERE cluster = $1 AND id = $2 AND state = 'pending'
     RETURNING id, shard, kind, body`,
    [cluster, id, node],
  );
  return claimedRows(rows);
}

/**
 * Takes over the claimed requests of `shard` that another node claimed (it
 * died or lost the shard). Waits for row locks: an owner storing an answer
 * right now either commits it first (the row is no longer claimed) or fails.
 */
export async function takeOver(
  pool: pg.Pool,
  cluster: string,
  node: string,
  shard: number,
  kinds: readonly string[],
): Promise<OwnerRequest[]> {
  const { rows } = await pool.query<Row>(
    `UPDATE ${T} SET claimed_by = $2
     WHERE cluster = $1 AND shard = $3 AND state = 'claimed' AND kind = ANY($4::text[]) AND claimed_by <> $2
     RETURNING id, shard, kind, body`,
    [cluster, node, shard, kinds],
  );
  return claimedRows(rows);
}

/**
 * Hands back to pending what this node's name claimed in an earlier life (a
 * process that ended before answering): whoever owns the shard serves it again.
 */
export async function releaseStaleClaims(pool: pg.Pool, cluster: string, node: string): Promise<number[]> {
  const { rows } = await pool.query<Row>(
    `UPDATE ${T} SET state = 'pending', claimed_by = NULL WHERE cluster = $1 AND state = 'claimed' AND claimed_by = $2
     RETURNING shard`,
    [cluster, node],
  );
  return [...new Set(rows.map((row) => IntSchema.parse(row.shard)))];
}

/**
 * Stores the answer (or the error) of a request this node claimed and returns
 * it as stored; null when the claim is no longer this node's (another owner
 * took it over): nothing stored.
 */
export async function storeOutcome(
  pool: pg.Pool,
  cluster: string,
  node: string,
  id: string,
  outcome: { readonly answer: string } | { readonly error: string },
): Promise<Outcome | null> {
  const [state, answer, error] =
    'answer' in outcome ? ['answered', outcome.answer, null] : ['failed', null, outcome.error];
  const { rows } = await pool.query<Row>(
    `UPDATE ${T} SET state = $4, answer = $5::jsonb, error = $6, answered_at = now()
     WHERE cluster = $1 AND id = $2 AND state = 'claimed' AND claimed_by = $3
     RETURNING id, state, answer, error`,
    [cluster, id, node, state, answer, error],
  );
  return rows[0] === undefined ? null : outcomeOf(OutcomeRowSchema.parse(rows[0]));
}

/** Hands a claimed request back (this node lost its shard): pending again, for the next owner. */
export async function unclaim(pool: pg.Pool, cluster: string, node: string, id: string): Promise<boolean> {
  const result = await pool.query(
    `UPDATE ${T} SET state = 'pending', claimed_by = NULL
     WHERE cluster = $1 AND id = $2 AND state = 'claimed' AND claimed_by = $3`,
    [cluster, id, node],
  );
  return result.rowCount === 1;
}

/**
 * Deletes answers older than `retentionMs`, and requests nobody claimed in that
 * time (their asker gave up long ago: asks may not wait longer than that).
 */
export async function deleteExpired(pool: pg.Pool, cluster: string, retentionMs: number): Promise<number> {
  const result = await pool.query(
    `DELETE FROM ${T} WHERE cluster = $1 AND (
       (answered_at IS NOT NULL AND answered_at < now() - $2 * interval '1 millisecond')
       OR (state = 'pending' AND created_at < now() - $2 * interval '1 millisecond'))`,
    [cluster, retentionMs],
  );
  return result.rowCount ?? 0;
}

/** Sends `payloads` on `channel` in one statement, outside any transaction. */
export async function notifyAll(pool: pg.Pool, channel: string, payloads: readonly string[]): Promise<void> {
  await pool.query('SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload', [channel, payloads]);
}
