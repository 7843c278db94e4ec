import { MemoryStorageAdapter } from '@shelfsync/storage';
import { StoreIdSchema, parseDuration, readStoreTokenClaims } from '@shelfsync/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Credentials } from '../src/credentials.js';
import { DEFAULT_TOKEN_TTL_MS, keyIdOf, signStoreToken, verifyStoreToken } from '../src/token.js';

const SECRET = 'a-secret-of-16-chars';
const NEXT = 'the-next-secret-16-chars';
const north = StoreIdSchema.parse('north');
const only = (secret: string) => (kid: string) =>
  kid === keyIdOf(secret) ? ({ state: 'active', secret } as const) : undefined;

describe('durations', () => {
  it('reads days, hours, minutes and seconds, alone or together', () => {
    expect(parseDuration('90d')).toBe(90 * 86_400_000);
    expect(parseDuration('12h')).toBe(12 * 3_600_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('2s')).toBe(2_000);
    expect(parseDuration(' 1d12h ')).toBe(36 * 3_600_000);
  });

  it('refuses anything else, never throwing', () => {
    for (const text of ['', '90', 'd', '0s', '1.5h', '-1d', '1m1h', '1w', '1d 2h', '10000000d', 'NaN']) {
      expect(parseDuration(text), text).toBeNull();
    }
    fc.assert(fc.property(fc.string(), (text) => parseDuration(text) === null || parseDuration(text)! > 0));
  });
});

describe('store tokens', () => {
  it('carry the store, the key id and an expiry (30 days by default)', () => {
    const now = 1_800_000_000_123;
    const token = signStoreToken(north, SECRET, { now });
    expect(token.startsWith('ss2.')).toBe(true);
    const verified = verifyStoreToken(token, only(SECRET), now);
    expect(verified).toEqual({
      ok: true,
      claims: { sub: 'north', kid: keyIdOf(SECRET), iat: now / 1000, exp: (now + DEFAULT_TOKEN_TTL_MS) / 1000 },
    });
    expect(keyIdOf(SECRET)).toMatch(/^k[A-Za-z0-9_-]{16}$/);
    expect(keyIdOf(SECRET)).not.toBe(keyIdOf(NEXT));
  });

  it('are refused from their expiry on, under another key, with another signature, or as ss1', () => {
    const now = 1_800_000_000_000;
    const token = signStoreToken(north, SECRET, { now, ttlMs: 2_000 });
    expect(verifyStoreToken(token, only(SECRET), now + 1_999).ok).toBe(true);
    expect(verifyStoreToken(token, only(SECRET), now + 2_000)).toEqual({ ok: false, reason: 'expired' });
    expect(verifyStoreToken(token, only(NEXT), now)).toEqual({ ok: false, reason: 'unknown-key' });
    expect(verifyStoreToken(token, () => ({ state: 'retired' }), now)).toEqual({ ok: false, reason: 'retired-key' });
    const forged = (kid: string) =>
      kid === keyIdOf(SECRET) ? ({ state: 'active', secret: NEXT } as const) : undefined;
    expect(verifyStoreToken(token, forged, now)).toEqual({ ok: false, reason: 'bad-signature' });
    // An ss1 token of the earlier format: {sub, iat} only.
    const legacy = `ss1.${Buffer.from(JSON.stringify({ sub: 'north', iat: 1 })).toString('base64url')}.sig`;
    expect(verifyStoreToken(legacy, only(SECRET), now)).toEqual({ ok: false, reason: 'legacy' });
    expect(readStoreTokenClaims(legacy)).toEqual({ ok: false, reason: 'legacy' });
  });

  it('never throw on malformed input, and never verify it', () => {
    const valid = signStoreToken(north, SECRET);
    const [, payload = '', sig = ''] = valid.split('.');
    const samples = [
      '',
      '.',
      '..',
      'ss2..',
      `ss2.${payload}`,
      `ss2.${payload}.${sig}.x`,
      `ss2.!!!.${sig}`,
      `ss2.${Buffer.from('not json').toString('base64url')}.${sig}`,
      `ss2.${Buffer.from('{"sub":"north"}').toString('base64url')}.${sig}`,
      `ss2.${Buffer.from('{"sub":"north","kid":"kAAAAAAAAAAAAAAAA","iat":5,"exp":4}').toString('base64url')}.x`,
      `ss2.${Buffer.from([0xff, 0xfe, 0x00]).toString('base64url')}.${sig}`,
    ];
    for (const text of samples) {
      expect(readStoreTokenClaims(text).ok, text).toBe(false);
      expect(verifyStoreToken(text, only(SECRET)).ok, text).toBe(false);
    }
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (a, b, c) => {
        for (const text of [a, `ss2.${b}.${c}`, `ss2.${Buffer.from(b).toString('base64url')}.${c}`]) {
          expect(verifyStoreToken(text, only(SECRET)).ok).toBe(false);
        }
      }),
    );
  });
});

describe('the hub key set and revocations', () => {
  it('keeps keys and not-befores durable, verifies under any active key, and refuses retired keys and revoked tokens', async () => {
    const adapter = new MemoryStorageAdapter();
    let now = 1_800_000_000_000;
    const clock = () => now;
    const credentials = await Credentials.open(adapter, SECRET, clock);
    const old = signStoreToken(north, SECRET, { now });
    await credentials.addKey(NEXT);
    const fresh = signStoreToken(north, NEXT, { now });
    expect(credentials.verify(old).ok).toBe(true);
    expect(credentials.verify(fresh).ok).toBe(true);
    await expect(credentials.retireKey(keyIdOf(SECRET))).resolves.toMatchObject({ state: 'retired' });
    expect(credentials.verify(old)).toEqual({ ok: false, reason: 'retired-key' });
    await expect(credentials.retireKey(keyIdOf(NEXT))).rejects.toThrow('last active key');

    now += 10;
    await credentials.revokeStore(north);
    expect(credentials.verify(fresh)).toEqual({ ok: false, reason: 'revoked' });
    now += 1;
    const after = signStoreToken(north, NEXT, { now });
    expect(credentials.verify(after).ok).toBe(true);

    // A restart reads it all back; the secret of a retired key is gone from the records.
    const reopened = await Credentials.open(adapter, SECRET, clock);
    expect(reopened.verify(old).ok).toBe(false);
    expect(reopened.verify(fresh)).toEqual({ ok: false, reason: 'revoked' });
    expect(reopened.verify(after).ok).toBe(true);
    expect(reopened.keys().map((k) => [k.kid, k.state, k.verifies])).toEqual(
      expect.arrayContaining([
        [keyIdOf(SECRET), 'retired', false],
        [keyIdOf(NEXT), 'active', true],
      ]),
    );
    const stored = new TextDecoder().decode((await adapter.loadRange(['auth', 'key']))[0]?.data);
    expect(stored).not.toContain(SECRET);
  });
});
