export { PgChangeLog, type PgChangeLogOptions } from './pg-change-log.js';
export { shardOf } from './shard-of.js';
export { planRound, type Plan, type PlanInput } from './shard-plan.js';
