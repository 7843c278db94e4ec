import { SkuSchema, StoreIdSchema } from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import { DemandBook } from '../src/demand-book.js';

const HOUR = 3_600_000;
const SKU = SkuSchema.parse('SKU-1');
const OTHER = SkuSchema.parse('SKU-2');
const stores = ['a', 'b', 'c', 'd'].map((id) => StoreIdSchema.parse(id));
const [a, b, c, d] = stores as [(typeof stores)[0], (typeof stores)[0], (typeof stores)[0], (typeof stores)[0]];

describe('DemandBook', () => {
  it('shrinks a location’s online rate toward the SKU’s chain-wide rate per followed location', () => {
    const now = { t: HOUR };
    const book = new DemandBook(HOUR, () => now.t, 0.5);
    for (const store of stores) book.committed(SKU, store, 0);
    book.ordered(SKU, a, 4);
    const alone = new DemandBook(HOUR, () => now.t, 0).rates(SKU, a).online;
    expect(alone).toBe(0);
    const own = 4 / (HOUR / Math.LN2);
    // a: half its own, half the chain's 4 units spread over 4 locations.
    expect(book.rates(SKU, a).online).toBeCloseTo(0.5 * own + 0.5 * (own / 4), 15);
    // b, c, d: no order of their own, a share of the chain's.
    for (const store of [b, c, d]) expect(book.rates(SKU, store).online).toBeCloseTo(0.5 * (own / 4), 15);
    // Another SKU's orders are not pooled with this one's.
    expect(book.rates(OTHER, a)).toEqual({ pos: 0, online: 0 });
    // Both halves decay with the half-life.
    now.t += HOUR;
    expect(book.rates(SKU, a).online).toBeCloseTo((0.5 * own + 0.5 * (own / 4)) / 2, 15);
  });

  it('spreads over the locations still followed: a forgotten one no longer dilutes the others', () => {
    const book = new DemandBook(HOUR, () => HOUR, 1);
    for (const store of stores) book.committed(SKU, store, 0);
    book.ordered(SKU, a, 4);
    const chain = 4 / (HOUR / Math.LN2);
    expect(book.rates(SKU, b).online).toBeCloseTo(chain / 4, 15);
    book.forget(SKU, c);
    book.forget(SKU, d);
    // Forgetting twice changes nothing.
    book.forget(SKU, d);
    expect(book.rates(SKU, b).online).toBeCloseTo(chain / 2, 15);
    expect(book.rates(SKU, c)).toEqual({ pos: 0, online: 0 });
    book.forget(SKU, a);
    book.forget(SKU, b);
    // With no location left the SKU's pool is gone; a new location starts from nothing.
    book.committed(SKU, c, 0);
    expect(book.rates(SKU, c).online).toBe(0);
  });
});
