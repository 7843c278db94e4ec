import { describe, expect, it } from 'vitest';
import { finalSkuOf, type FinalSku } from '../src/index.js';

describe('finalSkuOf', () => {
  it('keeps what the checker compares of a ledger and drops the rest', () => {
    const compared: FinalSku = {
      added: 10,
      committed: 4,
      value: 6,
      rights: { 'store:a': 6 },
      stateVector: 'AQID',
      owed: {},
      share: 'a',
    };
    expect(finalSkuOf({ ...compared, sku: 'MUG-1' } as FinalSku)).toEqual(compared);
  });

  it('leaves out the fields a ledger does not have, rather than setting them undefined', () => {
    const read = finalSkuOf({ added: 1, committed: 0, value: 1, rights: {} });
    expect(Object.keys(read).sort()).toEqual(['added', 'committed', 'rights', 'value']);
  });
});
