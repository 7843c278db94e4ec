import type { GuardedWrite, StorageAdapter, StorageKey, StorageWrite } from './storage-adapter.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What parses a record without throwing (a zod schema fits). */
type SafeSchema<T> = { safeParse(value: unknown): { success: true; data: T } | { success: false } };

/** A stored JSON record parsed by `schema`, or undefined when it is not one. */
function parseJson<T>(bytes: Uint8Array, schema: SafeSchema<T>): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(decoder.decode(bytes)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** JSON records over a StorageAdapter, parsed on the way out (a zod schema fits `schema`). */
export class RecordStore {
  constructor(private readonly adapter: StorageAdapter) {}

  /** The record at `key`, parsed by `schema`, or undefined when absent. Throws when stored bytes do not parse. */
  async get<T>(key: StorageKey, schema: { parse(value: unknown): T }): Promise<T | undefined> {
    const bytes = await this.adapter.load(key);
    if (bytes === undefined) return undefined;
    return schema.parse(JSON.parse(decoder.decode(bytes)));
  }

  /** The records under `prefix` that parse with `schema`; one that does not (damaged, or a newer release's) is skipped. */
  async range<T>(prefix: StorageKey, schema: SafeSchema<T>): Promise<T[]> {
    const found: T[] = [];
    for (const chunk of await this.adapter.loadRange(prefix)) {
      const parsed = parseJson(chunk.data, schema);
      if (parsed !== undefined) found.push(parsed);
    }
    return found;
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

  /**
   * `putWrite`, holding only while the stored record (parsed with `schema`;
   * undefined when absent or unreadable) passes `still` (`GuardedWrite`).
   */
  putWriteIf<T>(
    key: StorageKey,
    value: unknown,
    schema: SafeSchema<T>,
    still: (stored: T | undefined) => boolean,
  ): GuardedWrite {
    const guard = (stored: Uint8Array | undefined): boolean =>
      still(stored === undefined ? undefined : parseJson(stored, schema));
    return { ...this.putWrite(key, value), guard };
  }
}
