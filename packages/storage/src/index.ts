export { DocStore } from './doc-store.js';
export { assertKey, compareKeys, hasPrefix, runSync } from './key.js';
export { MemoryStorageAdapter } from './memory-storage-adapter.js';
export { RecordStore } from './record-store.js';
export { StorageWriteError } from './storage-adapter.js';
export type { GuardedWrite, StorageAdapter, StorageChunk, StorageKey, StorageWrite } from './storage-adapter.js';
export { guardOf } from './storage-adapter.js';
