import { badPercent, invalidSku, pct, validSku } from './http-requests.js';
import { concat, latin1, type FuzzContext } from './input.js';
import type { Prng } from './prng.js';

/** Upgrade handshakes: valid ones, and each header missing or broken, to known, unknown and malformed paths. */

export type Peer = FuzzContext['peers'][number];

function wsKey(rng: Prng): string {
  return Buffer.from(rng.bytes(16)).toString('base64');
}

/** A valid handshake for `path`, with the peer's token when it is for `/v1/sync`. */
export function handshake(rng: Prng, path: string, peer: Peer | null): Uint8Array {
  const headers = [
    `GET ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${wsKey(rng)}`,
    'Sec-WebSocket-Version: 13',
    ...(peer === null ? [] : [`Authorization: Bearer ${peer.token}`]),
  ];
  return latin1(`${headers.join('\r\n')}\r\n\r\n`);
}

/** Upgrade requests: each header of the handshake valid, missing or broken; paths known, unknown and malformed. */
export function upgradeInput(rng: Prng, ctx: FuzzContext): { kind: string; request: Uint8Array; wellFormed: boolean } {
  const peer = rng.pick(ctx.peers);
  const [pathKind, path, pathValid] = rng.pick<readonly [string, string, boolean]>([
    ['sync', '/v1/sync', true],
    ['sync-query-token', `/v1/sync?token=${pct(peer.token)}`, true],
    ['yjs-valid', `/yjs/${pct(validSku(rng))}`, true],
    ['yjs-invalid', `/yjs/${pct(invalidSku(rng))}`, true],
    ['yjs-bad-percent', `/yjs/${badPercent(rng)}`, false],
    ['yjs-bad-percent', `/yjs/fz${badPercent(rng)}x`, false],
    ['yjs-empty', '/yjs/', true],
    ['yjs-nested', `/yjs/${validSku(rng)}/${validSku(rng)}`, true],
    ['events', '/v1/events', true],
    ['unknown', rng.pick(['/', '/v1/sync/', '//v1/sync', '/v1/SYNC', '/healthz', '/yjs']), true],
    [
      'odd-target',
      rng.pick(['*', 'http://127.0.0.1/v1/sync', `/v1/sync?${'a'.repeat(rng.int(1, 9000))}`, '/v1/sync#x']),
      false,
    ],
  ]);
  const auth = rng.weighted<string>([
    [4, 'valid'],
    [1, 'none'],
    [1, 'forged'],
    [1, 'odd'],
  ]);
  const authHeader =
    auth === 'valid'
      ? `Authorization: Bearer ${peer.token}`
      : auth === 'forged'
        ? `Authorization: Bearer ${peer.token.slice(0, -4)}AAAA`
        : auth === 'odd'
          ? rng.pick([
              'Authorization: Bearer ',
              'Authorization: Basic Zm9vOmJhcg==',
              'Authorization: Bearer ss1..',
              `Authorization: Bearer ${'x'.repeat(rng.int(1, 9000))}`,
            ])
          : null;
  const key = rng.weighted<readonly [string, string | null, boolean]>([
    [6, ['valid', wsKey(rng), true]],
    [1, ['missing', null, false]],
    [1, ['short', Buffer.from(rng.bytes(rng.int(0, 15))).toString('base64'), false]],
    [1, ['not-base64', rng.pick(['!!!!!!!!!!!!!!!!!!!!!!!!', 'dGhlIHNhbXBsZSBub25jZQ', '\xff\xfe'.repeat(11)]), false]],
  ]);
  const version = rng.weighted<readonly [string | null, boolean]>([
    [6, ['13', true]],
    [1, [null, false]],
    [1, [rng.pick(['8', '14', 'abc', '13, 8', '']), false]],
  ]);
  const upgrade = rng.weighted<readonly [string | null, boolean]>([
    [8, ['websocket', true]],
    [1, [rng.pick(['WebSocket', 'h2c', '', 'websocket, foo']), false]],
    [1, [null, false]],
  ]);
  const connection = rng.weighted<readonly [string | null, boolean]>([
    [8, [rng.pick(['Upgrade', 'keep-alive, Upgrade']), true]],
    [1, [rng.pick(['close', 'keep-alive', '']), false]],
    [1, [null, false]],
  ]);
  const extras = rng.chance(0.15)
    ? [
        rng.pick([
          'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=99',
          'Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits',
          'Sec-WebSocket-Protocol: a, , b',
          'Sec-WebSocket-Extensions: ;;;',
          `Sec-WebSocket-Key: ${wsKey(rng)}`,
        ]),
      ]
    : [];
  const method = rng.chance(0.9) ? 'GET' : rng.pick(['POST', 'HEAD', 'PUT']);
  const headers = [
    `${method} ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    ...(upgrade[0] === null ? [] : [`Upgrade: ${upgrade[0]}`]),
    ...(connection[0] === null ? [] : [`Connection: ${connection[0]}`]),
    ...(key[1] === null ? [] : [`Sec-WebSocket-Key: ${key[1]}`]),
    ...(version[0] === null ? [] : [`Sec-WebSocket-Version: ${version[0]}`]),
    ...(authHeader === null ? [] : [authHeader]),
    ...extras,
  ];
  // Bytes after the handshake reach the server as the first frames' head.
  const head = rng.chance(0.1) ? rng.bytes(rng.int(1, 64)) : new Uint8Array(0);
  const wellFormed =
    pathValid &&
    key[2] &&
    version[1] &&
    upgrade[1] &&
    connection[1] &&
    method === 'GET' &&
    extras.length === 0 &&
    head.length === 0;
  return {
    kind: `${pathKind}/${wellFormed ? 'valid-handshake' : key[2] ? 'bad-handshake' : `key-${key[0]}`}`,
    request: concat([latin1(`${headers.join('\r\n')}\r\n\r\n`), head]),
    wellFormed,
  };
}
