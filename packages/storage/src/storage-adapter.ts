/**
 * A storage key: path segments, e.g. `['doc', 'SKU-1', 'snapshot']`. Each segment
 * is a non-empty string of printable ASCII (0x21-0x7e). Keys order segment by
 * segment, each segment in byte order; a key sorts before every longer key it
 * is a prefix of.
 */
export type StorageKey = readonly string[];

/** One stored value with its key. */
export interface StorageChunk {
  readonly key: StorageKey;
  readonly data: Uint8Array;
}

/** One write of an atomic batch: a save, or a removal. */
export type StorageWrite =
  { readonly key: StorageKey; readonly data: Uint8Array } | { readonly key: StorageKey; readonly remove: true };

/**
 * A write that holds only while the record it replaces is as its writer last
 * saw it: `guard` is asked about the stored bytes (undefined: none) inside the
 * write's own transaction, the record locked, wherever several processes write
 * the same records (the hub cluster's commit); the commit is refused if it
 * answers false. A storage that only one process writes may skip the check.
 */
export type GuardedWrite = StorageWrite & { readonly guard: (stored: Uint8Array | undefined) => boolean };

/** The guard of `write`, if it has one. */
export function guardOf(write: StorageWrite): GuardedWrite['guard'] | undefined {
  const guard = (write as Partial<GuardedWrite>).guard;
  return typeof guard === 'function' ? guard : undefined;
}

/**
 * A write that failed to become durable. `recorded` says what a restart will find:
 * `no` (the disk holds none of it), `yes` (the write itself is durable; a write
 * that followed it, such as a compaction, failed) or `unknown` (part of it may be
 * on disk and come back at restart). A caller answers its client accordingly.
 */
export class StorageWriteError extends Error {
  constructor(
    message: string,
    readonly recorded: 'no' | 'yes' | 'unknown',
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'StorageWriteError';
  }
}

/**
 * Where a process keeps its bytes. Implementations: `MemoryStorageAdapter`
 * (tests), the sql.js adapter (`@shelfsync/storage-sqljs`) and the PostgreSQL
 * adapter (`@shelfsync/storage-pg`); each passes `runStorageAdapterTests`. Calls may overlap; each one's effect is as if they
 * ran one at a time in call order.
 */
export interface StorageAdapter {
  /** The value at `key`, or undefined. */
  load(key: StorageKey): Promise<Uint8Array | undefined>;
  /** Stores `data` at `key`, replacing any value. The adapter keeps its own copy. */
  save(key: StorageKey, data: Uint8Array): Promise<void>;
  /** Removes `key`; removing a missing key is not an error. */
  remove(key: StorageKey): Promise<void>;
  /** Every value whose key starts with `prefix` (the prefix itself included), in key order. */
  loadRange(prefix: StorageKey): Promise<StorageChunk[]>;
  /** Every key that starts with `prefix`, in key order, without loading values. */
  keys(prefix: StorageKey): Promise<StorageKey[]>;
  /** Removes every key that starts with `prefix`. */
  removeRange(prefix: StorageKey): Promise<void>;
  /** Applies all writes or none of them. */
  writeBatch(writes: readonly StorageWrite[]): Promise<void>;
  /** Resolves once everything written before the call is durable. */
  flush(): Promise<void>;
  /**
   * Flushes, then releases resources. Every call made after close, even while it
   * is still running, rejects, except close itself: closing twice is harmless.
   */
  close(): Promise<void>;
}
