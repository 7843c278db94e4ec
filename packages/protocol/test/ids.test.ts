import { describe, expect, it } from 'vitest';
import {
  AccountIdSchema,
  CENTRAL_ACCOUNT,
  SkuSchema,
  StoreIdSchema,
  META_WRITER,
  accountOwner,
  onlineAccount,
  onlineWriter,
  ownsAccount,
  ownsKey,
  parseAccountId,
  storeAccount,
  storeWriter,
  writerKey,
  HUB_WRITER,
} from '../src/index.js';

describe('ids', () => {
  it('accepts store ids in the SKU format and refuses the rest, including the reserved "dc"', () => {
    for (const id of ['a', 'store-1', 'S1', 'a_b', 'a.b', 'a-', 'DC', 'a'.repeat(64)]) {
      expect(StoreIdSchema.safeParse(id).success, id).toBe(true);
    }
    for (const id of ['', 'dc', '-a', '.a', 'a'.repeat(65), 'a b', 'a:b', 'é']) {
      expect(StoreIdSchema.safeParse(id).success, id).toBe(false);
    }
  });

  it('accepts SKUs of letters, digits, dot, underscore and dash', () => {
    for (const sku of ['SKU-1', 'a.b_c', '0', 'X'.repeat(64)]) expect(SkuSchema.safeParse(sku).success, sku).toBe(true);
    for (const sku of ['', '-a', 'a/b', 'X'.repeat(65), 'a b'])
      expect(SkuSchema.safeParse(sku).success, sku).toBe(false);
  });

  it('parses the three account shapes and nothing else', () => {
    expect(parseAccountId('store:s1')).toEqual({ kind: 'store', location: 's1' });
    expect(parseAccountId('online:s1')).toEqual({ kind: 'online', location: 's1' });
    expect(parseAccountId('online:dc')).toEqual({ kind: 'online', location: 'dc' });
    for (const bad of ['store:dc', 'store:', 'online:', 'hub', 'pos:s1', 'store:-s1', 'store:s1:x']) {
      expect(parseAccountId(bad), bad).toBeNull();
      expect(AccountIdSchema.safeParse(bad).success, bad).toBe(false);
    }
  });

  it('a store owns only its store account; the hub owns every online account', () => {
    const s1 = StoreIdSchema.parse('s1');
    const s2 = StoreIdSchema.parse('s2');
    expect(writerKey(storeWriter(s1))).toBe('store:s1');
    expect(writerKey(HUB_WRITER)).toBe('hub');
    expect(accountOwner(storeAccount(s1))).toBe('store:s1');
    expect(accountOwner(onlineAccount(s1))).toBe('hub');
    expect(accountOwner(CENTRAL_ACCOUNT)).toBe('hub');
    expect(ownsAccount(storeWriter(s1), storeAccount(s1))).toBe(true);
    expect(ownsAccount(storeWriter(s1), storeAccount(s2))).toBe(false);
    expect(ownsAccount(storeWriter(s1), onlineAccount(s1))).toBe(false);
    expect(ownsAccount(HUB_WRITER, onlineAccount(s2))).toBe(true);
    expect(ownsAccount(HUB_WRITER, storeAccount(s2))).toBe(false);
  });

  it('schema version 2: each online account and meta are writers of their own, all the hub’s', () => {
    const s1 = StoreIdSchema.parse('s1');
    const s2 = StoreIdSchema.parse('s2');
    expect(accountOwner(onlineAccount(s1), 2)).toBe('online:s1');
    expect(accountOwner(CENTRAL_ACCOUNT, 2)).toBe('online:dc');
    expect(accountOwner(storeAccount(s1), 2)).toBe('store:s1');
    expect(writerKey(onlineWriter(s1))).toBe('online:s1');
    expect(writerKey(onlineWriter('dc'))).toBe('online:dc');
    expect(writerKey(META_WRITER)).toBe('meta');
    expect(ownsAccount(onlineWriter(s1), onlineAccount(s1))).toBe(true);
    expect(ownsAccount(onlineWriter(s1), onlineAccount(s2))).toBe(false);
    expect(ownsAccount(onlineWriter(s1), storeAccount(s1))).toBe(false);
    expect(ownsAccount(META_WRITER, CENTRAL_ACCOUNT)).toBe(false);
    const keys = ['store:s1', 'store:s2', 'hub', 'meta', 'online:s1', 'online:dc'];
    const owned = (writer: Parameters<typeof ownsKey>[0], version: 1 | 2) =>
      keys.filter((key) => ownsKey(writer, key, version));
    expect(owned(storeWriter(s1), 1)).toEqual(['store:s1']);
    expect(owned(storeWriter(s1), 2)).toEqual(['store:s1']);
    expect(owned(HUB_WRITER, 1)).toEqual(['hub', 'meta']);
    expect(owned(HUB_WRITER, 2)).toEqual(['meta', 'online:s1', 'online:dc']);
    expect(owned(onlineWriter(s1), 1)).toEqual([]);
    expect(owned(onlineWriter(s1), 2)).toEqual(['online:s1']);
    expect(owned(META_WRITER, 2)).toEqual(['meta']);
  });
});
