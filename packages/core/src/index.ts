export { createSkuDoc, initMeta, type SkuDocOptions } from './doc.js';
export {
  accountState,
  computeStock,
  deficitAllowance,
  ledgerOf,
  owedUnderOverride,
  parseLedgerEntry,
  reservableRights,
  readAccount,
  readEntry,
  rightsOf,
  type AccountTotals,
  type LocationStock,
  type StockView,
} from './ledger.js';
export {
  OperationSchema,
  QuantitySchema,
  applyOperation,
  isAllowedTransfer,
  type Operation,
  type OperationOutcome,
  type OperationType,
} from './operations.js';
export {
  AccountStateSchema,
  EMPTY_ACCOUNT,
  LEDGER_MAP,
  LedgerEntrySchema,
  META_MAP,
  SCHEMA_VERSION,
  SCHEMA_VERSION_2,
  TotalSchema,
  isMetaKey,
  metaValueSchemas,
  type AccountState,
  type LedgerEntry,
  type MetaKey,
} from './schema.js';
export {
  MAX_UPDATE_BYTES,
  applyValidatedUpdate,
  validateUpdate,
  type UpdateAcceptance,
  type ValidationLimits,
} from './validate-update.js';
export { ledgerSummary, type LedgerSummary } from './summary.js';
export { heldClientOwners } from './client-owners.js';
export {
  encodeShare,
  filterUpdate,
  shareStateVector,
  updateClients,
  type ClientFilter,
  type ClientSet,
} from './filtered-update.js';
export { schemaVersion, type WriterClients } from './version.js';
export { migrateToV2, mirrorVersion1, type Migration } from './migrate.js';
