import { describe, expect, it } from 'vitest';
import { generateInput } from '../bench/wire-fuzz/generate.js';
import { FUZZ_CLASSES, type FuzzContext } from '../bench/wire-fuzz/input.js';

const context: FuzzContext = { peers: [{ storeId: 'fz0', token: 'ss1.payload.signature' }] };

describe('wire fuzz generator', () => {
  it('is a pure function of seed and index, so any input replays alone', () => {
    for (let index = 0; index < 300; index += 1) {
      // Out of order on purpose: no input may depend on the ones generated before it.
      const later = generateInput(7, 299 - index, context);
      expect(generateInput(7, 299 - index, context)).toEqual(later);
    }
    const a = Array.from({ length: 50 }, (_, i) => generateInput(1, i, context).request);
    const b = Array.from({ length: 50 }, (_, i) => generateInput(2, i, context).request);
    expect(a).not.toEqual(b);
  });

  it('covers every class, both targets and well-formed as well as malformed inputs', () => {
    const inputs = Array.from({ length: 2_000 }, (_, i) => generateInput(42, i, context));
    for (const cls of FUZZ_CLASSES)
      expect(inputs.filter((input) => input.cls === cls).length, cls).toBeGreaterThan(100);
    expect(new Set(inputs.map((input) => input.target))).toEqual(new Set(['hub', 'store']));
    expect(inputs.filter((input) => input.wellFormed).length).toBeGreaterThan(200);
    expect(inputs.filter((input) => input.frames.length > 0 && input.target === 'store')).toEqual([]);
  });
});
