export { CatalogIndex, type CatalogSource } from './catalog-index.js';
export { decodeCursor, encodeCursor } from './catalog-cursor.js';
export { ChainActivity } from './chain-activity.js';
export { StockTags, epochTagOf, holdsVersion } from './etags.js';
export type { StorefrontStorage, WarningLog } from './ports.js';
export { BODY_CACHE_SIZE, StockBodies, stockBody } from './stock-bodies.js';
export {
  MAX_SCAN,
  StorefrontReads,
  type CatalogPage,
  type CatalogQuery,
  type StoreAvailability,
  type StorefrontReadsOptions,
  type VersionedRead,
} from './storefront-reads.js';
