const encoder = new TextEncoder();

/**
 * The shard a SKU belongs to: FNV-1a (32 bits) over its UTF-8 bytes, modulo
 * `shards`. Every node of a cluster must agree on it forever, so it depends on
 * nothing but the SKU and the count: no seed, no runtime hash.
 */
export function shardOf(sku: string, shards: number): number {
  if (!Number.isSafeInteger(shards) || shards < 1)
    throw new RangeError(`shard count must be a positive integer, not ${shards}`);
  let hash = 0x811c9dc5;
  for (const byte of encoder.encode(sku)) {
    hash ^= byte;
    // Math.imul keeps the product in 32 bits, as the C reference does.
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}
