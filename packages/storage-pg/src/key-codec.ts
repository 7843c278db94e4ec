import { assertKey, type StorageKey } from '@shelfsync/storage';

/**
 * Keys are stored as `bytea`, which PostgreSQL compares byte by byte (memcmp,
 * then the shorter first), whatever the database's collation. Segments are
 * printable ASCII (0x21-0x7e) joined by SEPARATOR (0x00), a byte below every
 * segment byte. So for keys a and b:
 *
 * - if they first differ inside segment i, their encodings first differ at the
 *   same byte, or one segment ends first: its encoding then has 0x00 or ends
 *   where the other has a byte >= 0x21, so the shorter segment sorts first;
 * - if one key is a prefix of the other, its encoding is a prefix of the
 *   other's, and sorts first.
 *
 * That is exactly `compareKeys`: segment by segment in byte order, a prefix first.
 */
export const SEPARATOR = 0x00;

/** The encoding of `key` (validated). */
export function encodeKey(key: StorageKey): Buffer {
  assertKey(key);
  return Buffer.from(key.join(String.fromCharCode(SEPARATOR)), 'latin1');
}

/** The key a stored encoding stands for; throws on bytes no key encodes to. */
export function decodeKey(encoded: Uint8Array): StorageKey {
  const key = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength)
    .toString('latin1')
    .split(String.fromCharCode(SEPARATOR));
  assertKey(key);
  return key;
}

/**
 * The keys under `prefix` (the prefix itself and every key that starts with
 * all its segments) are exactly the encodings k with `low <= k < high`, where
 * low = enc(prefix) and high = enc(prefix) || 0x01:
 *
 * - enc(prefix) itself, and enc(prefix) || 0x00 || more, lie in the range;
 * - a key that merely extends the last segment (['ab'] under ['a']) continues
 *   with a byte >= 0x21 > 0x01, so it is >= high;
 * - an encoding that is not an extension of low differs from it at some byte
 *   before low ends: below it, the key is < low; above it, also > high.
 *
 * One range on the primary key, so PostgreSQL scans just those index entries.
 */
export function prefixRange(prefix: StorageKey): { low: Buffer; high: Buffer } {
  const low = encodeKey(prefix);
  return { low, high: Buffer.concat([low, Buffer.of(SEPARATOR + 1)]) };
}
