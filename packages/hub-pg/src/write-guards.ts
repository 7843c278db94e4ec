import { encodeKey, STORAGE_TABLE } from '@shelfsync/storage-pg';
import { guardOf, type StorageWrite } from '@shelfsync/storage';
import { RecordChanged } from '@shelfsync/sync';
import type pg from 'pg';

/**
 * The guards of a commit's writes (`GuardedWrite`), in its transaction: each
 * guarded record is locked, then its stored bytes asked about; one that no
 * longer holds refuses the commit as a conflict. A record another node changed
 * meanwhile (or whose change by this node landed though its commit got no
 * answer) is seen here, after that change's transaction has ended.
 */
export async function checkGuards(
  client: pg.ClientBase,
  namespace: string,
  writes: readonly StorageWrite[],
): Promise<void> {
  for (const write of writes) {
    const guard = guardOf(write);
    if (guard === undefined) continue;
    const { rows } = await client.query<{ value: Buffer }>(
      `SELECT value FROM ${STORAGE_TABLE} WHERE namespace = $1 AND key = $2 FOR UPDATE`,
      [namespace, encodeKey(write.key)],
    );
    const stored = rows[0]?.value;
    if (!guard(stored === undefined ? undefined : new Uint8Array(stored))) {
      throw new RecordChanged(`the record ${write.key.join('/')} changed since this node read it`);
    }
  }
}
