import type { Migration } from './migrations.js';

/** The table every PgStorageAdapter of a database shares, one namespace per adapter. */
export const STORAGE_TABLE = 'storage_entries';
/** Each exclusive writer's epoch: raised by every writer that takes over (writer-fence.ts). */
export const WRITER_FENCE_TABLE = 'writer_fences';

/**
 * The storage schema, oldest first. A migration, once released, is never
 * edited: a change is a new one at the end.
 */
export const storageMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'storage entries',
    // key: segments joined by 0x00 (key-codec.ts); bytea compares bytes, so
    // ORDER BY key is the storage key order in any collation. The namespace is
    // only ever compared for equality; "C" keeps that a plain byte compare.
    sql: `CREATE TABLE ${STORAGE_TABLE} (
      namespace text COLLATE "C" NOT NULL,
      key bytea NOT NULL CHECK (octet_length(key) > 0),
      value bytea NOT NULL,
      PRIMARY KEY (namespace, key)
    )`,
  },
  {
    version: 2,
    name: 'writer fences',
    sql: `CREATE TABLE ${WRITER_FENCE_TABLE} (
      name text COLLATE "C" PRIMARY KEY,
      epoch bigint NOT NULL CHECK (epoch > 0)
    )`,
  },
];
