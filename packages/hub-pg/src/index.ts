export { PgChangeLog } from './pg-change-log.js';
export type { ChangeListener, CommitChecks, PgChangeLogOptions } from './change-log-options.js';
export { PgHubDocuments } from './pg-hub-documents.js';
export {
  NotShardOwner,
  type ForeignChangeListener,
  type PgHubDocumentsOptions,
  type ShardOwnership,
} from './hub-documents-options.js';
export { clusterOwnId, type HubIdentity } from './hub-identity.js';
export type { ChangeRow } from './change-rows.js';
export { LeaseLost, ShardCountMismatch, type LeaseHolder } from './lease-errors.js';
export { type ClusterView } from './lease-rows.js';
export { type NodeStatus, type ShardLeasesOptions, type ShardLeasesStats } from './shard-lease-options.js';
export { ShardLeases } from './shard-leases.js';
export { shardOf } from './shard-of.js';
export { planRound, type Plan, type PlanInput } from './shard-plan.js';
export {
  OwnerRequests,
  type OwnerRequest,
  type OwnerRequestsOptions,
  type OwnerRequestsStats,
  type RequestHandler,
} from './owner-requests.js';
export { RequestFailed, RequestTimedOut } from './request-errors.js';
export { StoreSessions, type StoreSessionsOptions } from './store-sessions.js';
export { ActivityShares, type ActivitySharesOptions } from './activity-shares.js';
