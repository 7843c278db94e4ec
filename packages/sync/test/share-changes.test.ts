import { SkuSchema, type Sku } from '@shelfsync/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShareChanges } from '../src/hub-share-changes.js';

const sku = (name: string): Sku => SkuSchema.parse(name);
const LOCATIONS = Array.from({ length: 12 }, (_, i) => `L${i}`);
const SKUS = ['A-1', 'B-1', 'C-1'].map(sku);

describe('ShareChanges: what a share store is welcomed with', () => {
  it("lists a SKU for the locations its changes touched, every holder for `meta`'s, and stays bounded", () => {
    const changes = new ShareChanges(0);
    const [a, b] = SKUS as [Sku, Sku];
    changes.note(a, 1, new Set(['L1']), false);
    changes.note(b, 2, new Set(['L2']), false);
    expect(changes.changedFor('L1', 0, [a, b])).toEqual([a]);
    expect(changes.changedFor('L2', 0, [a, b])).toEqual([b]);
    expect(changes.changedFor('L3', 0, [a, b])).toEqual([]);
    changes.note(b, 3, new Set(['L1', 'L2']), true);
    expect(changes.changedFor('L3', 2, [a, b])).toEqual([b]);
    expect(changes.changedFor('L1', 3, [a, b])).toEqual([]);
  });

  it('answers a cursor from before the hub started with every SKU the log lists', () => {
    const changes = new ShareChanges(10);
    const [a, b] = SKUS as [Sku, Sku];
    changes.note(a, 11, new Set(['L1']), false);
    expect(changes.changedFor('L2', 9, [a, b])).toEqual([a, b]);
    expect(changes.changedFor('L2', 10, [a, b])).toEqual([]);
  });

  it('never leaves out a SKU whose change after the cursor touched the location, and lists no other while few locations touch it (random histories)', () => {
    const change = fc.record({
      sku: fc.constantFrom(...SKUS),
      locations: fc.uniqueArray(fc.constantFrom(...LOCATIONS), { maxLength: 4 }),
      everyHolder: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(change, { maxLength: 80 }),
        fc.constantFrom(...LOCATIONS),
        fc.nat(80),
        (history, location, cursor) => {
          const changes = new ShareChanges(0);
          history.forEach((c, i) => changes.note(c.sku, i + 1, new Set(c.locations), c.everyHolder));
          // What the log would list, and what the store must exchange of it.
          const logged = SKUS.filter((s) => history.some((c, i) => c.sku === s && i + 1 > cursor));
          const must = SKUS.filter((s) =>
            history.some((c, i) => c.sku === s && i + 1 > cursor && (c.everyHolder || c.locations.includes(location))),
          );
          const listed = changes.changedFor(location, cursor, logged);
          for (const s of must) expect(listed).toContain(s);
          for (const s of listed) expect(logged).toContain(s);
          // Exact while a SKU's changes touched no more locations than are tracked.
          for (const s of listed) {
            const touched = new Set(history.filter((c) => c.sku === s).flatMap((c) => c.locations));
            if (touched.size <= 8) expect(must).toContain(s);
          }
        },
      ),
    );
  });
});
