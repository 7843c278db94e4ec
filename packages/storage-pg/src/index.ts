export {
  migrate,
  MIGRATION_LOCK_KEY,
  type MigrateOptions,
  type Migration,
  type MigrationReport,
} from './migrations.js';
export { assertIdentifier, assertNamespace } from './names.js';
export { inTransaction, TransactionError } from './transaction.js';
