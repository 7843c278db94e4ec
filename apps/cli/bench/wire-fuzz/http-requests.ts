import { concat, latin1, utf8, type FuzzTarget } from './input.js';
import type { Prng } from './prng.js';

/** The pieces of HTTP requests: SKUs, paths and bodies, valid and not, and whole well-formed requests. */

export const SKU_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-';
export const TOKEN_CHARS = "!#$%&'*+-.^_`|~ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A SKU the schema accepts; fuzz SKUs start with "fz" so they never meet the honest store's. */
export function validSku(rng: Prng): string {
  return `fz${rng.string(rng.int(0, 12), SKU_CHARS)}`;
}

/** A SKU the schema refuses, still percent-encoded correctly unless `raw`. */
export function invalidSku(rng: Prng): string {
  return rng.pick([
    '',
    '.hidden',
    '-x',
    'a'.repeat(rng.int(65, 300)),
    'sku with space',
    'ü-umlaut',
    'a/b',
    '\u0000',
    '😀',
    '%',
    '..',
  ]);
}

/** Well-formed percent-encoding of any string. */
export function pct(text: string): string {
  return encodeURIComponent(text);
}

/** Broken percent-encodings and encodings of odd bytes. */
export function badPercent(rng: Prng): string {
  return rng.pick(['%', '%z', '%zz', '%E0%A4%A', '%C0%80', '%FF%FE', '%00', '%ED%A0%80', '%%', '%2', '%u0041', '%25%']);
}

/** A path the target serves, with random but valid parameters. */
export function knownPath(rng: Prng, target: FuzzTarget): { method: string; path: string } {
  const sku = pct(rng.chance(0.8) ? validSku(rng) : invalidSku(rng));
  const store = rng.pick(['honest', 'fz0', 'nobody', 'x'.repeat(70)]);
  const common = [
    ['GET', '/healthz'],
    ['GET', '/readyz'],
    ['GET', `/v1/skus/${sku}`],
    ['GET', `/v1/skus/${sku}/ledger`],
    ['GET', '/nothing-here'],
    ['GET', '/'],
    ['DELETE', `/v1/skus/${sku}`],
    ['OPTIONS', '/v1/skus'],
    ['HEAD', '/healthz'],
  ] as const;
  const hub = [
    ['GET', '/v1/skus'],
    ['GET', `/v1/skus?limit=${rng.int(-5, 500)}&cursor=${pct(rng.string(rng.int(0, 12), SKU_CHARS))}`],
    ['GET', `/v1/stores/${store}/skus/${sku}`],
    ['GET', '/v1/stores'],
    ['GET', '/v1/summary'],
    ['GET', `/v1/events?sku=${sku}`],
    ['GET', `/v1/reservations/${pct(rng.string(rng.int(1, 30), SKU_CHARS))}`],
    ['POST', `/v1/reservations/r_${rng.string(22, SKU_CHARS)}/confirm`],
    ['GET', `/v1/admin/stores/${store}/faults`],
    ['GET', '/v1/sync'],
    ['GET', `/yjs/${sku}`],
    ['GET', '/dashboard.html'],
    ['GET', `/assets/${rng.string(rng.int(1, 20), SKU_CHARS)}.js`],
  ] as const;
  const store_ = [
    ['GET', '/v1/status'],
    ['GET', '/metrics'],
  ] as const;
  const [method, path] = rng.pick<readonly [string, string]>(
    target === 'hub' ? [...common, ...hub] : [...common, ...store_],
  );
  return { method, path };
}

/** A JSON body a route may see: valid per its schema, or valid JSON of the wrong shape. */
function jsonBody(rng: Prng): string {
  const sku = rng.chance(0.8) ? validSku(rng) : invalidSku(rng);
  const quantity = rng.pick([1, 2, 0, -1, 1.5, 1e9, 2 ** 53, Number.MAX_SAFE_INTEGER]);
  return rng.pick([
    () => JSON.stringify({ sku, quantity }),
    () => JSON.stringify({ sku, quantity: String(quantity) }),
    () => JSON.stringify({ sku, counted: quantity }),
    () => JSON.stringify({ sku, quantity, toStore: rng.pick(['honest', 'fz1', '']) }),
    () => JSON.stringify({ sku, quantity, storeId: 'honest' }),
    () => JSON.stringify({ sku, quantity, override: true }),
    () => JSON.stringify({ state: rng.pick(['cut', 'restored', 'x']) }),
    () => JSON.stringify({ sku, quantity, extra: { deep: [1, [2, [3]]] } }),
    () => '[]',
    () => 'null',
    () => '"text"',
    () => `{"sku":${'['.repeat(rng.int(1, 3000))}`,
    () => `${'['.repeat(rng.int(1, 2000))}${']'.repeat(rng.int(0, 2000))}`,
    () => JSON.stringify({ sku: 'x'.repeat(rng.int(100, 70_000)) }),
    () => '{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}}}',
  ])();
}

/** A complete, well-formed request; `extraHeaders` are valid too. */
export function wellFormedRequest(rng: Prng, target: FuzzTarget, extraHeaders: readonly string[] = []): Uint8Array {
  if (rng.chance(0.35)) {
    const path =
      target === 'store'
        ? rng.pick([
            '/v1/sales',
            '/v1/receipts',
            '/v1/returns',
            '/v1/adjustments',
            '/v1/transfers',
            '/v1/transfers/receive',
          ])
        : rng.pick(['/v1/reservations', '/v1/admin/stores/fz0/link', '/v1/admin/stores/fz0/faults', '/healthz']);
    const body = utf8(jsonBody(rng));
    const headers = [
      `Host: 127.0.0.1`,
      `Content-Type: ${rng.pick(['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded'])}`,
      `Content-Length: ${body.length}`,
      ...(rng.chance(0.5)
        ? [`Idempotency-Key: ${rng.pick([rng.string(rng.int(1, 40), SKU_CHARS), 'k'.repeat(300), ''])}`]
        : []),
      ...(rng.chance(0.2) ? [`Authorization: Bearer ${rng.string(rng.int(1, 60), SKU_CHARS)}`] : []),
      ...extraHeaders,
    ];
    return concat([latin1(`POST ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`), body]);
  }
  const { method, path } = knownPath(rng, target);
  const headers = ['Host: 127.0.0.1', ...extraHeaders];
  return latin1(`${method} ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`);
}
