export { AllocatorConfigSchema, defaultAllocatorConfig, type AllocatorConfig } from './config.js';
export { NO_VELOCITY, pooledRate, recordSale, velocityAt, type Velocity } from './velocity.js';
export {
  allocate,
  onlineBand,
  releaseForOrder,
  shelfTargets,
  topUpForSale,
  type Allocation,
  type ChannelDemand,
  type OnlineBand,
  type ShelfTargets,
  type ShelfRights,
  type TopUp,
} from './policy.js';
