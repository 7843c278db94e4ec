import { SkuSchema, StoreIdSchema, type Sku } from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, type Hello } from '../src/control.js';
import { Step1Allowance, speaks, unsupportedProtocol, welcomeFor } from '../src/hub-handshake.js';

const sku = (value: string): Sku => SkuSchema.parse(value);

function hello(fields: Partial<Hello> = {}): Hello {
  return {
    type: 'hello',
    protocol: 5,
    storeId: StoreIdSchema.parse('north'),
    epoch: 'e1',
    cursor: 0,
    dirty: [],
    ...fields,
  };
}

describe('hub handshake', () => {
  const log = {
    epoch: 'e1',
    cursor: () => 7,
    changedSince: (cursor: number) => (cursor < 5 ? [sku('A'), sku('B')] : [sku('B')]),
    allSkus: () => [sku('A'), sku('B'), sku('C')],
  };

  it('welcomes with the SKUs changed after the store cursor and the hub head', () => {
    expect(welcomeFor(log, hello({ cursor: 6 }), 3)).toEqual({
      type: 'welcome',
      protocol: 5,
      epoch: 'e1',
      cursor: 7,
      changed: ['B'],
      overrideCap: 3,
    });
    expect(welcomeFor(log, hello({ cursor: 0 }), 0).changed).toEqual(['A', 'B']);
  });

  it('lists every SKU to a store from another epoch, or from none', () => {
    expect(welcomeFor(log, hello({ epoch: 'e0', cursor: 6 }), 0).changed).toEqual(['A', 'B', 'C']);
    expect(welcomeFor(log, hello({ epoch: null }), 0).changed).toEqual(['A', 'B', 'C']);
  });

  it('speaks the protocols of its window and tells others why it closes', () => {
    expect(speaks(MIN_PROTOCOL_VERSION) && speaks(PROTOCOL_VERSION)).toBe(true);
    expect(speaks(MIN_PROTOCOL_VERSION - 1) || speaks(PROTOCOL_VERSION + 1)).toBe(false);
    expect(unsupportedProtocol(99)).toMatchObject({ type: 'error', code: 'VALIDATION_FAILED' });
    expect(unsupportedProtocol(99).detail).toContain('protocol 99 unsupported');
  });
});

describe('step 1 allowance', () => {
  const noTokens = { burst: 0, perSecond: 0 };

  it('frees the first step 1 of each SKU the handshake named, and only the first', () => {
    const allowance = new Step1Allowance(noTokens, () => 0);
    expect(allowance.take('A')).toBe(false);
    allowance.welcomed([sku('A')], hello({ dirty: [sku('D')] }));
    expect(allowance.take('A')).toBe(true);
    expect(allowance.take('D')).toBe(true);
    expect(allowance.take('A')).toBe(false);
    expect(allowance.take('X')).toBe(false);
  });

  it('frees as many other SKUs as the hello counted past its list, once each', () => {
    const allowance = new Step1Allowance(noTokens, () => 0);
    allowance.welcomed([sku('A')], hello({ dirty: [sku('D')], dirtyTotal: 3 }));
    expect(allowance.take('A')).toBe(true);
    // A listed SKU's free ask does not use up an unlisted one, nor is it free twice.
    expect(allowance.take('A')).toBe(false);
    expect(allowance.take('X')).toBe(true);
    expect(allowance.take('X')).toBe(false);
    expect(allowance.take('Y')).toBe(true);
    expect(allowance.take('Z')).toBe(false);
    expect(allowance.take('D')).toBe(true);
  });

  it('takes a token for any other step 1', () => {
    let now = 0;
    const allowance = new Step1Allowance({ burst: 2, perSecond: 1 }, () => now);
    expect([allowance.take('A'), allowance.take('A'), allowance.take('A')]).toEqual([true, true, false]);
    now += 1_000;
    expect(allowance.take('A')).toBe(true);
  });
});
