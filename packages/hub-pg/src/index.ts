export { PgChangeLog, type ChangeListener, type CommitChecks, type PgChangeLogOptions } from './pg-change-log.js';
export {
  NotShardOwner,
  PgHubDocuments,
  type ForeignChangeListener,
  type PgHubDocumentsOptions,
  type ShardOwnership,
} from './pg-hub-documents.js';
export { clusterOwnId, type HubIdentity } from './hub-identity.js';
export type { ChangeRow } from './change-rows.js';
export {
  OwnerRequests,
  type OwnerRequest,
  type OwnerRequestsOptions,
  type OwnerRequestsStats,
  type RequestHandler,
} from './owner-requests.js';
export { RequestFailed, RequestTimedOut } from './request-errors.js';
