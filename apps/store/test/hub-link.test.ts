import { createLogger } from '@shelfsync/edge';
import { CloseCode } from '@shelfsync/protocol';
import type { StoreSync } from '@shelfsync/sync';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { HubLink } from '../src/hub-link.js';

/** A token the link can read (it checks only the claims; the hub checks the signature). */
const token = (kid: string): string => {
  const iat = Math.floor(Date.now() / 1000);
  const claims = { sub: 'north', kid, iat, exp: iat + 30 * 86_400 };
  return `ss2.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.signature`;
};

interface LogLine {
  level: number;
  msg: string;
  retryInMs?: number;
  problem?: string;
}
const ERROR = 50;

/**
 * A hub that closes every connection with what `closeWith` says for it (by
 * count, from 1), and a link to it whose log lands in `lines`. The link draws
 * 0 for jitter, so its delays are exact: a first retry waits 125 ms, a second
 * 250 ms, and `authRetryMs` of 60 s waits 54 s.
 */
async function linkTo(closeWith: (connection: number) => { code: number; reason: string }) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  let connections = 0;
  server.on('connection', (socket) => {
    const close = closeWith(++connections);
    socket.close(close.code, close.reason);
  });
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const log = createLogger('store', {}, sink);
  log.level = 'info';
  let currentToken = token('kAAAAAAAAAAAAAAAA');
  const sync = { attach: () => undefined, detach: () => undefined } as unknown as StoreSync;
  const { port } = server.address() as { port: number };
  const link = new HubLink(
    {
      hubUrl: `ws://127.0.0.1:${port}`,
      token: () => currentToken,
      tokenFromFile: true,
      authRetryMs: 60_000,
      random: () => 0,
    },
    sync,
    log,
  );
  cleanups.push(async () => {
    link.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  link.start();
  return {
    link,
    lines,
    connections: () => connections,
    /** Puts a new token in place, as an operator writing the token file would. */
    newToken: () => (currentToken = token('kBBBBBBBBBBBBBBBB')),
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 10_000, interval: 10 });

describe('the hub link acts on the recovery class of each close', () => {
  it('a stop-and-alert close (4409 replaced) waits authRetryMs, says why, logs one error, and tries at once on a new token', async () => {
    const hub = await linkTo(() => CloseCode.Replaced);
    await waitFor(() => expect(hub.link.problem).toMatchObject({ kind: 'replaced', status: 4409 }));
    const problem = hub.link.problem;
    expect(Date.parse(problem?.nextAttemptAt ?? '') - Date.parse(problem?.since ?? '')).toBeGreaterThanOrEqual(53_000);
    expect(problem?.detail).toContain('another connection');
    expect(hub.lines.filter((l) => l.level >= ERROR)).toEqual([
      expect.objectContaining({ problem: 'replaced', retryInMs: 54_000 }),
    ]);
    expect(hub.connections()).toBe(1);

    // An operator's fix (a new token) is tried within a second; met again, the problem is not logged at error again.
    hub.newToken();
    await waitFor(() => expect(hub.connections()).toBe(2));
    await waitFor(() =>
      expect(hub.lines.filter((l) => l.msg.startsWith('still not connected'))).toEqual([
        expect.objectContaining({ problem: 'replaced', retryInMs: 54_000 }),
      ]),
    );
    expect(hub.lines.filter((l) => l.level >= ERROR)).toHaveLength(1);
    expect(hub.connections()).toBe(2);
  });

  it('a session closed for breaking the protocol (4400) is a problem for a person too', async () => {
    const hub = await linkTo(() => CloseCode.BadRequest);
    await waitFor(() => expect(hub.link.problem).toMatchObject({ kind: 'protocol-error', status: 4400 }));
    expect(hub.lines.find((l) => l.level >= ERROR)).toMatchObject({ retryInMs: 54_000 });
    expect(hub.connections()).toBe(1);
  });

  it.each([
    ['slow consumer (4429)', CloseCode.SlowConsumer],
    ['request budget exceeded (4420)', CloseCode.RequestBudgetExceeded],
    ['going away (1001)', CloseCode.GoingAway],
    ['a framing violation (1002)', CloseCode.ProtocolError],
    ['a code shelfsync does not define', { code: 4999, reason: 'from a proxy' }],
  ])('a retry close, %s, reconnects with backoff', async (_name, close) => {
    const hub = await linkTo((n) => (n < 3 ? close : CloseCode.Replaced));
    await waitFor(() => expect(hub.connections()).toBe(3));
    const closed = hub.lines.filter((l) => l.msg === 'hub connection closed');
    expect(closed.map((l) => l.retryInMs)).toEqual([125, 250]);
    expect(hub.lines.filter((l) => l.level >= ERROR && l.problem !== 'replaced')).toEqual([]);
  });

  it('a resync close (4422) reconnects at once, and backs off when it comes again before the session lasted', async () => {
    const hub = await linkTo((n) => (n < 3 ? CloseCode.TooManyInvalidUpdates : CloseCode.Replaced));
    await waitFor(() => expect(hub.connections()).toBe(3));
    const resyncs = hub.lines.filter((l) => l.msg.includes('to resync'));
    expect(resyncs.map((l) => l.retryInMs)).toEqual([0, 250]);
  });
});
