import { MemoryStorageAdapter } from '../src/index.js';
import { runStorageAdapterTests } from '../src/testing/conformance.js';

runStorageAdapterTests('MemoryStorageAdapter', () => {
  const adapter = new MemoryStorageAdapter();
  return Promise.resolve({ adapter, teardown: () => adapter.close() });
});
