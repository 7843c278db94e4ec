export { Journal, readJournalFile } from './journal.js';
export { SqlJsStorageAdapter, type RecoveryReport, type SqlJsStorageOptions } from './sqljs-storage-adapter.js';
