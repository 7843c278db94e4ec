import type { StorageAdapter, StorageKey, StorageWrite } from './storage-adapter.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** JSON records over a StorageAdapter, parsed on the way out (a zod schema fits `schema`). */
export class RecordStore {
  constructor(private readonly adapter: StorageAdapter) {}

  /** The record at `key`, parsed by `schema`, or undefined when absent. Throws when stored bytes do not parse. */
  async get<T>(key: StorageKey, schema: { parse(value: unknown): T }): Promise<T | undefined> {
    const bytes = await this.adapter.load(key);
    if (bytes === undefined) return undefined;
    return schema.parse(JSON.parse(decoder.decode(bytes)));
  }

  /** Stores `value` at `key` as JSON (UTF-8), replacing any record. */
  put(key: StorageKey, value: unknown): Promise<void> {
    return this.adapter.save(key, encoder.encode(JSON.stringify(value)));
  }

  /** Removes the record at `key`; removing a missing record is not an error. */
  delete(key: StorageKey): Promise<void> {
    return this.adapter.remove(key);
  }

  /** The write that stores `value` at `key`, for an atomic `writeBatch`. */
  putWrite(key: StorageKey, value: unknown): StorageWrite {
    return { key, data: encoder.encode(JSON.stringify(value)) };
  }
}
