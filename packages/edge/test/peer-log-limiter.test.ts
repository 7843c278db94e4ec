import { pino } from 'pino';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PeerLogLimiter } from '../src/peer-log-limiter.js';

/** A pino logger whose lines land in an array, parsed. */
function capture(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk
        .toString('utf8')
        .split('\n')
        .filter((l) => l !== '')) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

describe('PeerLogLimiter', () => {
  it('writes at most N lines per peer per window, then one line with the count it suppressed', () => {
    let now = 0;
    const { log, lines } = capture();
    const limiter = new PeerLogLimiter(log, { linesPerWindow: 3, windowMs: 1_000, now: () => now });
    const written = Array.from({ length: 1_000 }, () => limiter.warn('10.0.0.1', { reason: 'x' }, 'connection error'));
    expect(written.filter(Boolean)).toHaveLength(3);
    expect(lines).toHaveLength(3);
    // Another peer has its own budget.
    expect(limiter.warn('10.0.0.2', {}, 'connection error')).toBe(true);
    now = 1_000;
    expect(limiter.flush()).toBe(1);
    expect(lines.at(-1)).toMatchObject({
      peer: '10.0.0.1',
      suppressed: 997,
      msg: 'log lines suppressed for this peer',
    });
    // A new window: the peer may write again, and nothing is reported twice.
    expect(limiter.warn('10.0.0.1', {}, 'connection error')).toBe(true);
    expect(lines.filter((l) => l.suppressed !== undefined)).toHaveLength(1);
    limiter.stop();
  });

  it('reports the suppressed count when the peer writes again after its window', () => {
    let now = 0;
    const { log, lines } = capture();
    const limiter = new PeerLogLimiter(log, { linesPerWindow: 1, windowMs: 100, now: () => now });
    for (let i = 0; i < 5; i++) limiter.error('store:north', {}, 'protocol-error');
    now = 150;
    limiter.error('store:north', {}, 'protocol-error');
    expect(lines.map((l) => l.suppressed ?? null)).toEqual([null, 4, null]);
  });

  it('remembers a bounded number of peers: many peers cost memory for the newest only', () => {
    const { log, lines } = capture();
    const limiter = new PeerLogLimiter(log, { linesPerWindow: 1, windowMs: 1_000, maxPeers: 10, now: () => 0 });
    for (let i = 0; i < 100; i++) {
      limiter.warn(`peer-${i}`, {}, 'a');
      limiter.warn(`peer-${i}`, {}, 'a');
    }
    // Each peer wrote one line; each forgotten peer's one suppressed line was reported when it was dropped.
    expect(lines.filter((l) => l.msg === 'a')).toHaveLength(100);
    expect(lines.filter((l) => l.suppressed === 1)).toHaveLength(90);
  });

  it('bounds all peers together too: many addresses cost at most the total per window', () => {
    let now = 0;
    const { log, lines } = capture();
    const limiter = new PeerLogLimiter(log, {
      linesPerWindow: 2,
      totalLinesPerWindow: 50,
      windowMs: 1_000,
      now: () => now,
    });
    for (let i = 0; i < 1_000; i++) limiter.warn(`10.0.${i >> 8}.${i & 255}`, {}, 'a');
    expect(lines).toHaveLength(50);
    now = 1_000;
    limiter.warn('10.9.9.9', {}, 'a');
    expect(lines.at(-2)).toMatchObject({ suppressed: 950, msg: 'log lines suppressed across peers: too many peers' });
    expect(lines.at(-1)).toMatchObject({ peer: '10.9.9.9', msg: 'a' });
  });
});
