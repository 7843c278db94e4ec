import { describe, expect, it } from 'vitest';
import { assertKey, compareKeys, hasPrefix, type StorageKey } from '../src/index.js';

describe('storage keys', () => {
  it('accepts printable ASCII segments and refuses anything else with a TypeError', () => {
    expect(() => assertKey(['doc', 'SKU-1', 'u', '000000000001'])).not.toThrow();
    expect(() => assertKey(['!~'])).not.toThrow();
    for (const key of [[], [''], ['a', ''], ['a b'], ['a\u0000'], ['\u007f'], ['é'], ['\u{1f600}']]) {
      expect(() => assertKey(key), JSON.stringify(key)).toThrow(TypeError);
    }
  });

  it('orders segment by segment, byte order within a segment, a prefix first', () => {
    const sorted: StorageKey[] = [['a'], ['a', 'B'], ['a', 'b'], ['a', 'b', 'c'], ['a!'], ['ab'], ['b']];
    const shuffled = [sorted[4], sorted[0], sorted[6], sorted[2], sorted[5], sorted[3], sorted[1]] as StorageKey[];
    expect([...shuffled].sort(compareKeys)).toEqual(sorted);
    expect(compareKeys(['x', 'y'], ['x', 'y'])).toBe(0);
  });

  it('matches prefixes by whole segments', () => {
    expect(hasPrefix(['a'], ['a'])).toBe(true);
    expect(hasPrefix(['a', 'b'], ['a'])).toBe(true);
    expect(hasPrefix(['ab'], ['a'])).toBe(false);
    expect(hasPrefix(['a'], ['a', 'b'])).toBe(false);
    expect(hasPrefix(['a'], [])).toBe(true);
  });
});
