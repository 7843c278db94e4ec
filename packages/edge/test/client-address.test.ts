import { describe, expect, it } from 'vitest';
import { clientAddress, trustedProxies } from '../src/index.js';

describe('the client behind a reverse proxy', () => {
  const trusted = trustedProxies(['127.0.0.1', '10.0.0.5']);

  it('is the connection itself when it does not come from a trusted proxy, whatever it claims', () => {
    expect(clientAddress('203.0.113.9', '198.51.100.1', trusted)).toBe('203.0.113.9');
    expect(clientAddress('::ffff:203.0.113.9', undefined, trusted)).toBe('203.0.113.9');
  });

  it('is the nearest untrusted hop of X-Forwarded-For, read from the right, for a trusted proxy', () => {
    expect(clientAddress('127.0.0.1', '198.51.100.1', trusted)).toBe('198.51.100.1');
    expect(clientAddress('::ffff:127.0.0.1', '198.51.100.1', trusted)).toBe('198.51.100.1');
    // A client that forges entries to the left cannot choose its address: the proxy appended the real one.
    expect(clientAddress('127.0.0.1', '1.2.3.4, 198.51.100.1', trusted)).toBe('198.51.100.1');
    // Chained trusted proxies are skipped.
    expect(clientAddress('127.0.0.1', '198.51.100.1, 10.0.0.5', trusted)).toBe('198.51.100.1');
    expect(clientAddress('127.0.0.1', ['198.51.100.1', '10.0.0.5'], trusted)).toBe('198.51.100.1');
  });

  it('is the proxy itself when the header is missing or names only proxies', () => {
    expect(clientAddress('127.0.0.1', undefined, trusted)).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', ' , ', trusted)).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', '10.0.0.5', trusted)).toBe('10.0.0.5');
  });

  it('bounds what a header can make it', () => {
    expect(clientAddress('127.0.0.1', 'x'.repeat(10_000), trusted)).toHaveLength(64);
  });
});
