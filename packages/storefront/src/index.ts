export { CatalogIndex, type CatalogSource } from './catalog-index.js';
export { ChainActivity } from './chain-activity.js';
export type { WarningLog } from './ports.js';
