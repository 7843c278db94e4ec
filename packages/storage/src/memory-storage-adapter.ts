import { assertKey, compareKeys, hasPrefix, keyId, runSync } from './key.js';
import type { StorageAdapter, StorageChunk, StorageKey, StorageWrite } from './storage-adapter.js';

/** A StorageAdapter in memory: for tests, and for processes that need no durability. */
export class MemoryStorageAdapter implements StorageAdapter {
  private readonly entries = new Map<string, { key: StorageKey; data: Uint8Array }>();
  private closed = false;

  load(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.run(() => {
      assertKey(key);
      return this.entries.get(keyId(key))?.data.slice();
    });
  }

  save(key: StorageKey, data: Uint8Array): Promise<void> {
    return this.writeBatch([{ key, data }]);
  }

  remove(key: StorageKey): Promise<void> {
    return this.writeBatch([{ key, remove: true }]);
  }

  loadRange(prefix: StorageKey): Promise<StorageChunk[]> {
    return this.run(() => this.matching(prefix).map(({ key, data }) => ({ key: [...key], data: data.slice() })));
  }

  keys(prefix: StorageKey): Promise<StorageKey[]> {
    return this.run(() => this.matching(prefix).map(({ key }) => [...key]));
  }

  removeRange(prefix: StorageKey): Promise<void> {
    return this.run(() => {
      for (const { key } of this.matching(prefix)) this.entries.delete(keyId(key));
    });
  }

  writeBatch(writes: readonly StorageWrite[]): Promise<void> {
    return this.run(() => {
      for (const write of writes) assertKey(write.key);
      for (const write of writes) {
        if ('remove' in write) this.entries.delete(keyId(write.key));
        else this.entries.set(keyId(write.key), { key: [...write.key], data: write.data.slice() });
      }
    });
  }

  flush(): Promise<void> {
    return this.run(() => undefined);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private matching(prefix: StorageKey): { key: StorageKey; data: Uint8Array }[] {
    assertKey(prefix);
    return [...this.entries.values()]
      .filter(({ key }) => hasPrefix(key, prefix))
      .sort((a, b) => compareKeys(a.key, b.key));
  }

  private run<T>(body: () => T): Promise<T> {
    return runSync(this.closed, body);
  }
}
