import { SKU_CHARS, TOKEN_CHARS, badPercent, knownPath, validSku, wellFormedRequest } from './http-requests.js';
import { concat, latin1, utf8, type FuzzTarget } from './input.js';
import type { Prng } from './prng.js';

/** Request-line and header-block inputs: whole HTTP/1.1 requests, valid or broken in one place. */

/** A request whose request line is broken in one way (or, sometimes, not at all). */
export function requestLineInput(
  rng: Prng,
  target: FuzzTarget,
): { kind: string; request: Uint8Array; wellFormed: boolean } {
  const { method, path } = knownPath(rng, target);
  const tail = '\r\nHost: 127.0.0.1\r\n\r\n';
  const line = (m: string, t: string, v = 'HTTP/1.1'): Uint8Array => latin1(`${m} ${t} ${v}${tail}`);
  const kind = rng.weighted<string>([
    [3, 'well-formed'],
    [2, 'bad-method'],
    [2, 'huge-target'],
    [3, 'invalid-target'],
    [2, 'bad-version'],
    [2, 'line-ending'],
    [2, 'nul'],
    [2, 'non-ascii'],
    [1, 'spacing'],
    [1, 'random-bytes'],
  ]);
  switch (kind) {
    case 'well-formed':
      return { kind, request: wellFormedRequest(rng, target), wellFormed: true };
    case 'bad-method':
      return {
        kind,
        request: line(
          rng.pick([
            rng.string(rng.int(1, 12), TOKEN_CHARS),
            'get',
            'G ET',
            'GET\t',
            'M'.repeat(rng.int(20, 5000)),
            'PRI',
            'CONNECT',
            'TRACE',
            '',
            '\x00GET',
          ]),
          path,
        ),
        wellFormed: false,
      };
    case 'huge-target':
      return { kind, request: line(method, `${path}?q=${'a'.repeat(rng.int(8_000, 40_000))}`), wellFormed: false };
    case 'invalid-target':
      return {
        kind,
        request: line(
          method,
          rng.pick([
            `${path}${badPercent(rng)}`,
            `/yjs/${badPercent(rng)}`,
            `/v1/skus/${badPercent(rng)}`,
            `/v1/stores/${badPercent(rng)}/skus/a`,
            `/v1/events?sku=${badPercent(rng)}`,
            `/v1/events?lastEventId=${badPercent(rng)}`,
            '*',
            'v1/skus',
            `http://127.0.0.1${path}`,
            `http://[::1${path}`,
            `//${path}`,
            `${path}#frag`,
            `${path}?${'&'.repeat(rng.int(1, 3000))}`,
            `${path}?a[${'['.repeat(rng.int(1, 500))}=1`,
            `/${'../'.repeat(rng.int(1, 50))}etc/passwd`,
            `/${'%2e%2e/'.repeat(rng.int(1, 20))}`,
            '/\x7f',
            `${path}\x01`,
          ]),
        ),
        wellFormed: false,
      };
    case 'bad-version':
      return {
        kind,
        request: line(
          method,
          path,
          rng.pick([
            'HTTP/2.0',
            'HTTP/1.2',
            'HTTP/9.9',
            'http/1.1',
            'HTTP/1.1x',
            'HTTP/',
            'HTTP/1',
            'HTTP/0.9',
            'HTTP/1.01',
            'FOO/1.1',
            '',
          ]),
        ),
        wellFormed: false,
      };
    case 'line-ending': {
      const ending = rng.pick(['\n', '\r', '\n\r', '\r\r\n', '']);
      return {
        kind,
        request: latin1(`${method} ${path} HTTP/1.1${ending}Host: 127.0.0.1${ending}${ending}`),
        wellFormed: false,
      };
    }
    case 'nul': {
      const bytes = line(method, path);
      const at = rng.int(0, bytes.length - 1);
      return {
        kind,
        request: concat([bytes.subarray(0, at), new Uint8Array([0]), bytes.subarray(at)]),
        wellFormed: false,
      };
    }
    case 'non-ascii':
      return {
        kind,
        request: concat([
          rng.chance(0.5)
            ? utf8(`${method} /v1/skus/${rng.pick(['ü', '😀', '\u2028', 'ǅ'])} HTTP/1.1`)
            : latin1(`${method} ${path}\xff\xfe HTTP/1.1`),
          latin1(tail),
        ]),
        wellFormed: false,
      };
    case 'spacing':
      return {
        kind,
        request: latin1(
          `${rng.pick([`${method}  ${path} HTTP/1.1`, ` ${method} ${path} HTTP/1.1`, `${method} ${path}`, `${method}\t${path}\tHTTP/1.1`, `${method} ${path} HTTP/1.1 `])}${tail}`,
        ),
        wellFormed: false,
      };
    default:
      return { kind: 'random-bytes', request: rng.bytes(rng.int(1, 400)), wellFormed: false };
  }
}

/** A valid request line with a header block broken in one way (or valid and unusual). */
export function headerBlockInput(
  rng: Prng,
  target: FuzzTarget,
): { kind: string; request: Uint8Array; wellFormed: boolean } {
  const kind = rng.weighted<string>([
    [3, 'well-formed'],
    [2, 'duplicate'],
    [2, 'oversized'],
    [3, 'malformed'],
    [3, 'length-encoding'],
    [2, 'truncated-body'],
  ]);
  const path =
    target === 'store'
      ? rng.pick(['/v1/sales', '/v1/receipts', '/v1/adjustments'])
      : rng.pick(['/v1/reservations', '/v1/admin/stores/fz0/link']);
  const body = utf8(`{"sku":"${validSku(rng)}","quantity":1}`);
  const post = (headers: readonly string[], payload: Uint8Array = body): Uint8Array =>
    concat([
      latin1(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`),
      payload,
    ]);
  switch (kind) {
    case 'well-formed':
      return {
        kind,
        request: wellFormedRequest(
          rng,
          target,
          rng.pick([
            [`X-Request-Id: ${rng.string(rng.int(1, 200), TOKEN_CHARS)}`],
            [`If-None-Match: "${rng.string(rng.int(0, 40), SKU_CHARS)}"`],
            [`Last-Event-ID: ${rng.string(rng.int(0, 40), SKU_CHARS)}`],
            ['Origin: http://shop.example', 'Access-Control-Request-Method: POST'],
            [`Accept: ${rng.pick(['*/*', 'text/event-stream', 'application/problem+json'])}`],
            ['Connection: close'],
            [`X-Forwarded-For: ${rng.int(0, 255)}.${rng.int(0, 255)}.0.1`],
          ]),
        ),
        wellFormed: true,
      };
    case 'duplicate': {
      const name = rng.pick([
        'Content-Length',
        'Content-Type',
        'Host',
        'Authorization',
        'Transfer-Encoding',
        'Idempotency-Key',
        'X-Request-Id',
      ]);
      const value = (): string =>
        name === 'Content-Length'
          ? String(rng.pick([body.length, body.length + 1, 0]))
          : name === 'Transfer-Encoding'
            ? 'chunked'
            : rng.string(rng.int(1, 20), SKU_CHARS);
      const headers = ['Content-Type: application/json', `${name}: ${value()}`, `${name}: ${value()}`];
      if (name !== 'Content-Length' && name !== 'Transfer-Encoding') headers.push(`Content-Length: ${body.length}`);
      return { kind, request: post(headers), wellFormed: false };
    }
    case 'oversized':
      return {
        kind,
        request: rng.chance(0.5)
          ? post([
              'Content-Type: application/json',
              `Content-Length: ${body.length}`,
              `X-Big: ${'v'.repeat(rng.int(10_000, 40_000))}`,
            ])
          : post([
              'Content-Type: application/json',
              `Content-Length: ${body.length}`,
              ...Array.from({ length: rng.int(100, 1500) }, (_, i) => `X-H${i}: ${i}`),
            ]),
        wellFormed: false,
      };
    case 'malformed':
      return {
        kind,
        request: post([
          'Content-Type: application/json',
          `Content-Length: ${body.length}`,
          rng.pick([
            'NoColon',
            'Space Before : x',
            'Trailing-Space : x',
            ': empty-name',
            ' folded: x',
            'X-Fold: a\r\n  continued',
            'X-Ctl: a\x01b',
            'X-Nul: a\x00b',
            'X-High: \xff\xfe',
            'X(Bad): x',
            'X-Cr: a\rb',
            `Authorization: Bearer ${'\xe9'.repeat(rng.int(1, 50))}`,
            `Content-Type: application/json; charset=${'x'.repeat(rng.int(1, 500))}`,
            `Idempotency-Key: \x7f`,
          ]),
        ]),
        wellFormed: false,
      };
    case 'length-encoding':
      return {
        kind,
        request: rng.pick([
          () =>
            post([
              'Content-Type: application/json',
              `Content-Length: ${rng.pick(['-1', 'abc', '+5', '1 2', '0x10', '99999999999999999999', ' ', '1e3', '١٢'])}`,
            ]),
          () =>
            post(['Content-Type: application/json', `Content-Length: ${body.length}`, 'Transfer-Encoding: chunked']),
          () =>
            post([
              'Content-Type: application/json',
              `Transfer-Encoding: ${rng.pick(['gzip', 'identity', 'chunked, gzip', 'gzip, chunked', 'chunked, chunked', 'xchunked', 'Chunked'])}`,
            ]),
          () =>
            post(
              ['Content-Type: application/json', 'Transfer-Encoding: chunked'],
              latin1(
                `${rng.pick(['zz', '-1', 'ffffffffffffffff', '1;ext=\x01', '5', ''])}\r\n${'x'.repeat(5)}\r\n0\r\n\r\n`,
              ),
            ),
          () =>
            post(
              ['Content-Type: application/json', 'Transfer-Encoding: chunked'],
              latin1(`${body.length.toString(16)}\r\n${String.fromCharCode(...body)}\r\n0\r\nX-Trailer\r\n\r\n`),
            ),
          () =>
            post(
              ['Content-Type: application/json', 'Content-Length: 5'],
              latin1('12345GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'),
            ),
        ])(),
        wellFormed: false,
      };
    default:
      return {
        kind: 'truncated-body',
        request: rng.chance(0.5)
          ? post(['Content-Type: application/json', `Content-Length: ${body.length + rng.int(1, 100_000)}`])
          : post(
              ['Content-Type: application/json', 'Transfer-Encoding: chunked'],
              latin1(`${(body.length + 10).toString(16)}\r\n${String.fromCharCode(...body)}`),
            ),
        wellFormed: false,
      };
  }
}
