export { CatalogIndex, type CatalogSource } from './catalog-index.js';
export { decodeCursor, encodeCursor } from './catalog-cursor.js';
export { ActivityShareSchema, ChainActivity, type ActivityShare } from './chain-activity.js';
export { StockTags, epochTagOf, holdsVersion } from './etags.js';
export { systemTimers, type FeedTimers, type StorefrontStorage, type WarningLog } from './ports.js';
export { BODY_CACHE_SIZE, StockBodies, stockBody } from './stock-bodies.js';
export {
  EVENTS_FLUSH_MS,
  HEARTBEAT_MS,
  HEARTBEAT_TEXT,
  MAX_EVENT_BACKLOG,
  RESET_TEXT,
  RETRY_TEXT,
  StockEvents,
  type EventSink,
  type StockEventsOptions,
  type Subscription,
} from './stock-events.js';
export {
  MAX_SCAN,
  StorefrontReads,
  type CatalogPage,
  type CatalogQuery,
  type StoreAvailability,
  type StorefrontReadsOptions,
  type VersionedRead,
} from './storefront-reads.js';
