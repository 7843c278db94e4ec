export { AllocatorConfigSchema, defaultAllocatorConfig, type AllocatorConfig } from './config.js';
export { NO_VELOCITY, recordSale, velocityAt, type Velocity } from './velocity.js';
export {
  allocate,
  quotaBand,
  topUpForSale,
  type Allocation,
  type QuotaBand,
  type ShelfRights,
  type TopUp,
} from './policy.js';
