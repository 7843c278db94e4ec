import { assertKey, type StorageWrite } from '@shelfsync/storage';
import type pg from 'pg';
import { encodeKey } from './key-codec.js';
import { STORAGE_TABLE } from './schema.js';

/** Rows per INSERT: well under PostgreSQL's 65,535 parameters per statement. */
const ROWS_PER_INSERT = 1000;

/** A batch of writes validated, copied and reduced to its effect: the last write to a key wins. */
export interface PreparedWrites {
  readonly upserts: readonly { readonly key: Buffer; readonly value: Buffer }[];
  readonly deletes: readonly Buffer[];
}

/**
 * Validates and copies a batch (so the caller may reuse its buffers at once),
 * reduced to what it leaves behind. Throws on an invalid key.
 */
export function prepareWrites(writes: readonly StorageWrite[]): PreparedWrites {
  for (const write of writes) assertKey(write.key);
  const last = new Map<string, { key: Buffer; value: Buffer | null }>();
  for (const write of writes) {
    const key = encodeKey(write.key);
    last.set(key.toString('latin1'), { key, value: 'remove' in write ? null : Buffer.from(write.data) });
  }
  const upserts: { key: Buffer; value: Buffer }[] = [];
  const deletes: Buffer[] = [];
  for (const { key, value } of last.values()) {
    if (value === null) deletes.push(key);
    else upserts.push({ key, value });
  }
  return { upserts, deletes };
}

/** True when applying the batch would change nothing. */
export function isEmptyWrites(prepared: PreparedWrites): boolean {
  return prepared.upserts.length + prepared.deletes.length === 0;
}

/**
 * Applies a prepared batch to `namespace` in `client`'s current transaction:
 * what `PgStorageAdapter.writeBatch` runs, usable by any transaction that must
 * commit storage entries together with rows of its own.
 */
export async function applyWrites(client: pg.ClientBase, namespace: string, prepared: PreparedWrites): Promise<void> {
  const { upserts, deletes } = prepared;
  if (deletes.length > 0) {
    await client.query(`DELETE FROM ${STORAGE_TABLE} WHERE namespace = $1 AND key = ANY($2::bytea[])`, [
      namespace,
      deletes,
    ]);
  }
  for (let start = 0; start < upserts.length; start += ROWS_PER_INSERT) {
    const rows = upserts.slice(start, start + ROWS_PER_INSERT);
    // Keys and values go as binary parameters: no escaping, no hex doubling.
    const values = rows.map((_, i) => `($1, $${2 * i + 2}, $${2 * i + 3})`).join(', ');
    await client.query(
      `INSERT INTO ${STORAGE_TABLE} (namespace, key, value) VALUES ${values}
       ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value`,
      [namespace, ...rows.flatMap(({ key, value }) => [key, value])],
    );
  }
}
