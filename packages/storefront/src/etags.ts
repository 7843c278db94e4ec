/** The hub's epoch as ETags and event ids carry it: its first 8 letters and digits. */
export function epochTagOf(epoch: string): string {
  return epoch.replace(/[^A-Za-z0-9]/g, '').slice(0, 8);
}

/**
 * A read's strong ETags: the epoch, the process and the SKU's change number.
 * A change is numbered before it is durable, and a crash can hand its number
 * to another change: a tag names the process too (`bootTag`, random per start),
 * so it never matches across a restart (clients fetch each SKU once more after one).
 */
export class StockTags {
  private readonly prefix: string;

  constructor(epoch: string, bootTag: string) {
    this.prefix = `${epochTagOf(epoch)}${bootTag}`;
  }

  /** The tag of change `seq`; `suffix` tells apart the reads of one SKU that differ (per store). */
  of(seq: number, suffix = ''): string {
    return `"${this.prefix}-${seq}${suffix}"`;
  }
}

/**
 * Whether an If-None-Match value (empty when the header is absent) names `etag`
 * or `*`: the client already holds this version.
 */
export function holdsVersion(ifNoneMatch: string, etag: string): boolean {
  if (ifNoneMatch === '') return false;
  const tags = ifNoneMatch.split(',').map((t) => t.trim());
  return tags.includes(etag) || tags.includes('*');
}
