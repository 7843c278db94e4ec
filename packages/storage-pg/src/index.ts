export { isConnectionFailure } from './connection-failure.js';
export { decodeKey, encodeKey, prefixRange, SEPARATOR } from './key-codec.js';
export {
  migrate,
  MIGRATION_LOCK_KEY,
  type MigrateOptions,
  type Migration,
  type MigrationReport,
} from './migrations.js';
export { assertIdentifier, assertNamespace } from './names.js';
export { PgStorageAdapter, type PgStorageOptions } from './pg-storage-adapter.js';
export { bytesColumn, type Row } from './rows.js';
export {
  CHANGE_HEADS_TABLE,
  CHANGE_LOG_TABLE,
  CLIENT_OWNERS_TABLE,
  DOC_SNAPSHOTS_TABLE,
  HUB_IDENTITY_TABLE,
  HUB_NODES_TABLE,
  SHARD_CLUSTERS_TABLE,
  SHARD_LEASES_TABLE,
  OWNER_REQUESTS_TABLE,
  STORE_SESSIONS_TABLE,
  ACTIVITY_SHARES_TABLE,
  STORAGE_TABLE,
  storageMigrations,
  WRITER_FENCE_TABLE,
  WRITER_HEADS_TABLE,
} from './schema.js';
export { inTransaction, TransactionError } from './transaction.js';
export { FencedOut, WriterFence, WriterFenceHeld } from './writer-fence.js';
export { applyWrites, isEmptyWrites, prepareWrites, type PreparedWrites } from './write-batch.js';
export { HeldPool } from './held-pool.js';
