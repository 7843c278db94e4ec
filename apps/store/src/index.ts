export { StoreConfigSchema, checkStoreConfig, type StoreConfig } from './config.js';
export { startStore, type RunningStore } from './store-node.js';
