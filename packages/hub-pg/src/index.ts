export { PgChangeLog, type ChangeListener, type CommitChecks, type PgChangeLogOptions } from './pg-change-log.js';
export { PgHubDocuments, type ForeignChangeListener, type PgHubDocumentsOptions } from './pg-hub-documents.js';
export { clusterOwnId, type HubIdentity } from './hub-identity.js';
export type { ChangeRow } from './change-rows.js';
