import type { StorageKey } from './storage-adapter.js';

const segmentPattern = /^[\x21-\x7e]+$/;

/** Throws a TypeError unless every segment is non-empty printable ASCII. */
export function assertKey(key: StorageKey): void {
  if (key.length === 0) throw new TypeError('a storage key needs at least one segment');
  for (const segment of key) {
    if (!segmentPattern.test(segment)) throw new TypeError(`invalid storage key segment ${JSON.stringify(segment)}`);
  }
}

/** Orders keys segment by segment (byte order); a prefix sorts before the keys it prefixes. */
export function compareKeys(a: StorageKey, b: StorageKey): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** Whether `key` starts with every segment of `prefix`. */
export function hasPrefix(key: StorageKey, prefix: StorageKey): boolean {
  if (prefix.length > key.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

/** One string per key, for maps. Segments never contain U+0000, so it is unambiguous. */
export function keyId(key: StorageKey): string {
  return key.join('\u0000');
}

/**
 * Runs a synchronous adapter call as a promise: rejects once the adapter is
 * closed, and turns a throw into a rejection, so callers see one failure path.
 */
export function runSync<T>(closed: boolean, body: () => T): Promise<T> {
  if (closed) return Promise.reject(new Error('storage adapter is closed'));
  try {
    return Promise.resolve(body());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
