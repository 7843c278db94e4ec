export { SqlJsStorageAdapter, type SqlJsStorageOptions } from './sqljs-storage-adapter.js';
