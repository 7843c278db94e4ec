import { SkuSchema } from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import { refusalCause, type TopUpResult } from '../src/index.js';

const answer = (fields: Partial<TopUpResult>): TopUpResult => ({
  type: 'topup-result',
  ref: 1,
  sku: SkuSchema.parse('MUG-1'),
  granted: 0,
  available: 0,
  rights: 0,
  client: 1,
  clock: 0,
  ...fields,
});

describe('why a sale beyond the rights was refused', () => {
  it('an empty shelf is not an escrow matter, whatever the link', () => {
    expect(refusalCause({ requested: 2, onShelf: 1, asked: true, topUp: answer({}) })).toBe('location_empty');
    expect(refusalCause({ requested: 2, onShelf: 1, asked: false, topUp: null })).toBe('location_empty');
  });

  it('units on the shelf with the hub out of reach are held in the online escrow', () => {
    expect(refusalCause({ requested: 1, onShelf: 5, asked: false, topUp: null })).toBe('hub_unreachable');
  });

  it('the hub answered that the location has no rights to give: they are promised online', () => {
    expect(refusalCause({ requested: 2, onShelf: 5, asked: true, topUp: answer({ available: 1, rights: 1 }) })).toBe(
      'online_escrow',
    );
  });

  it('no answer, or rights that did not arrive in time, is a timeout', () => {
    expect(refusalCause({ requested: 1, onShelf: 5, asked: true, topUp: null })).toBe('topup_timeout');
    expect(refusalCause({ requested: 1, onShelf: 5, asked: true, topUp: answer({ granted: 3, rights: 3 }) })).toBe(
      'topup_timeout',
    );
  });
});
