import { createSkuDoc } from '@shelfsync/core';
import type { Sku } from '@shelfsync/protocol';
import { bytesColumn, CHANGE_LOG_TABLE, DOC_SNAPSHOTS_TABLE, type Row } from '@shelfsync/storage-pg';
import type pg from 'pg';
import * as Y from 'yjs';
import { z } from 'zod';

const SeqSchema = z
  .union([z.string().regex(/^\d+$/), z.number().int()])
  .transform(Number)
  .pipe(z.number().int().min(0));

/** A SKU document as the log holds it: the snapshot's state (if any) and every change after it, in order. */
export interface StoredDocument {
  readonly updates: Uint8Array[];
  /** The newest change number read (0 for none). */
  readonly upto: number;
  /** Changes read after the snapshot. */
  readonly changes: number;
}

/**
 * Reads the SKU's document from the database. A snapshot written between the
 * two reads changes nothing: the changes read are every change after the
 * snapshot read first (the log keeps them).
 */
export async function readDocument(pool: pg.Pool, log: string, sku: Sku): Promise<StoredDocument> {
  const snapshot = await pool.query<Row>(`SELECT upto, state FROM ${DOC_SNAPSHOTS_TABLE} WHERE log = $1 AND sku = $2`, [
    log,
    sku,
  ]);
  const first = snapshot.rows[0];
  const base = first === undefined ? 0 : SeqSchema.parse(first['upto']);
  const { rows } = await pool.query<Row>(
    `SELECT seq, update FROM ${CHANGE_LOG_TABLE} WHERE log = $1 AND sku = $2 AND seq > $3 ORDER BY seq`,
    [log, sku, base],
  );
  const updates = rows.map((row) => bytesColumn(row, 'update'));
  if (first !== undefined) updates.unshift(bytesColumn(first, 'state'));
  const last = rows.at(-1);
  return { updates, upto: last === undefined ? base : SeqSchema.parse(last['seq']), changes: rows.length };
}

/**
 * Compacts the SKU's document into a snapshot: read from the database, never
 * from a node's memory (which may hold changes not committed, or refused), and
 * written only over an older snapshot, so nodes that compact at once agree.
 * The log keeps its changes: a node that follows it still reads them in order.
 * Resolves with the change number the snapshot holds up to (0: nothing to compact).
 */
export async function writeSnapshot(pool: pg.Pool, log: string, sku: Sku): Promise<number> {
  const stored = await readDocument(pool, log, sku);
  if (stored.changes === 0) return 0;
  const doc = createSkuDoc();
  try {
    for (const update of stored.updates) Y.applyUpdate(doc, update);
    const state = Y.encodeStateAsUpdate(doc);
    await pool.query(
      `INSERT INTO ${DOC_SNAPSHOTS_TABLE} AS snapshots (log, sku, upto, state) VALUES ($1, $2, $3, $4)
       ON CONFLICT (log, sku) DO UPDATE SET upto = EXCLUDED.upto, state = EXCLUDED.state
       WHERE snapshots.upto < EXCLUDED.upto`,
      [log, sku, stored.upto, Buffer.from(state.buffer, state.byteOffset, state.byteLength)],
    );
    return stored.upto;
  } finally {
    doc.destroy();
  }
}
