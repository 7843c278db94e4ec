export { PgChangeLog, type PgChangeLogOptions } from './pg-change-log.js';
export { LeaseLost, ShardCountMismatch, type LeaseHolder } from './lease-errors.js';
export { type ClusterView } from './lease-rows.js';
export { type ShardLeasesOptions, type ShardLeasesStats } from './shard-lease-options.js';
export { ShardLeases } from './shard-leases.js';
export { shardOf } from './shard-of.js';
export { planRound, type Plan, type PlanInput } from './shard-plan.js';
