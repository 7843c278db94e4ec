import Router from '@koa/router';
import { pino } from 'pino';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConnectionErrors, requestTarget, wsErrorReason } from '../src/connection-errors.js';
import { createHttpServer, type RequestState } from '../src/http.js';
import { closeServer, listen } from '../src/listen.js';
import { Metrics } from '../src/metrics.js';
import { PeerLogLimiter } from '../src/peer-log-limiter.js';

function send(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
  });
}

describe('ConnectionErrors', () => {
  it('a peer flooding refused requests costs a bounded number of log lines, each counted, none with a stack', async () => {
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
    const log = pino({ level: 'info' }, sink);
    const metrics = new Metrics('store');
    const errors = new ConnectionErrors(log, metrics, new PeerLogLimiter(log, { linesPerWindow: 5, now: () => 0 }));
    const unexpected: unknown[] = [];
    const server = createHttpServer(new Router<RequestState>(), (error) => unexpected.push(error), metrics, [], errors);
    const port = await listen(server, 0, '127.0.0.1');
    try {
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          send(
            port,
            i % 2 === 0 ? 'GARBAGE\r\n\r\n' : 'GET http://[::1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
          ),
        ),
      );
      for (const answer of answers) expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(await send(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(
        /^HTTP\/1\.1 200 /,
      );
      expect(unexpected).toEqual([]);
      expect(lines.filter((l) => l.msg === 'connection error')).toHaveLength(5);
      expect(JSON.stringify(lines)).not.toContain('stack');
      const text = await metrics.registry.metrics();
      expect(text).toContain('shelfsync_connection_errors_total{reason="bad_request_line",process="store"} 40');
    } finally {
      await closeServer(server);
    }
  });

  it('names ws violations by a fixed reason, and takes only request targets that are URLs', () => {
    const coded = (code: string) => Object.assign(new Error('x'), { code });
    expect(wsErrorReason(coded('WS_ERR_INVALID_UTF8'))).toBe('invalid_utf8');
    expect(wsErrorReason(coded('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'))).toBe('payload_too_large');
    expect(wsErrorReason(coded('WS_ERR_INVALID_OPCODE'))).toBe('bad_opcode');
    expect(wsErrorReason(coded('WS_ERR_EXPECTED_MASK'))).toBe('protocol_error');
    expect(wsErrorReason(coded('ECONNRESET'))).toBe('socket_error');
    expect(wsErrorReason('not even an error')).toBe('socket_error');
    expect(requestTarget('/v1/skus/%E0%A4%A?x=%zz')?.pathname).toBe('/v1/skus/%E0%A4%A');
    expect(requestTarget('*')).not.toBeNull();
    expect(requestTarget('http://hub:8080/healthz')?.pathname).toBe('/healthz');
    for (const bad of ['http://[::1', 'http://a:b@/x', 'http://x:99999/', 'ftp://x/', 'x', '', undefined]) {
      expect(requestTarget(bad), String(bad)).toBeNull();
    }
  });
});
