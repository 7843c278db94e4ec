import { validSku } from './http-requests.js';
import { concat, utf8, type FuzzContext } from './input.js';
import type { Prng } from './prng.js';
import { hello } from './sync-inputs.js';
import { handshake } from './upgrade-inputs.js';
import { Opcode, closePayload, encodeFrame } from './ws-frame.js';

/** Raw WebSocket frames that break RFC 6455 in one way each, after a valid upgrade. */

const INVALID_UTF8 = [
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xe2, 0x82],
  [0xff],
  [0xf4, 0x90, 0x80, 0x80],
].map((b) => new Uint8Array(b));

const CLOSE_CODES = [
  0, 999, 1000, 1001, 1004, 1005, 1006, 1012, 1014, 1015, 1016, 2999, 3000, 4000, 4400, 4999, 5000, 65535,
];

/** One raw frame sequence, broken in one way; every frame a server must refuse or survive. */
function rawFrames(rng: Prng): { kind: string; frames: Uint8Array[] } {
  const small = (): Uint8Array => rng.bytes(rng.int(0, 40));
  const kind = rng.weighted<string>([
    [3, 'opcode'],
    [3, 'length'],
    [2, 'unmasked'],
    [1, 'rsv'],
    [3, 'fragmentation'],
    [2, 'control-too-big'],
    [2, 'invalid-utf8'],
    [3, 'close'],
    [2, 'after-close'],
    [2, 'valid-data'],
  ]);
  switch (kind) {
    case 'opcode':
      return { kind, frames: [encodeFrame({ opcode: rng.int(0, 15), payload: small(), fin: rng.chance(0.8) })] };
    case 'length': {
      const payload = small();
      const lie = rng.pick<bigint>([
        BigInt(payload.length),
        BigInt(payload.length + rng.int(1, 100)),
        BigInt(Math.max(0, payload.length - rng.int(1, 10))),
        2n ** 63n + 5n,
        2n ** 64n - 1n,
        2n ** 40n,
        3n * 1024n * 1024n,
        2n ** 53n + 1n,
      ]);
      return {
        kind: `length-${lie === BigInt(payload.length) ? 'true' : 'lie'}`,
        frames: [
          encodeFrame({
            opcode: rng.pick([Opcode.Binary, Opcode.Text, Opcode.Ping, Opcode.Close]),
            payload,
            lengthForm: rng.pick(['auto', 7, 16, 64] as const),
            declaredLength: lie,
          }),
        ],
      };
    }
    case 'unmasked':
      return {
        kind,
        frames: [
          encodeFrame({
            opcode: rng.pick([Opcode.Binary, Opcode.Text, Opcode.Ping, Opcode.Close]),
            payload: small(),
            mask: null,
          }),
        ],
      };
    case 'rsv':
      return {
        kind,
        frames: [
          encodeFrame({
            opcode: rng.pick([Opcode.Binary, Opcode.Text, Opcode.Ping]),
            payload: small(),
            rsv: rng.int(1, 7),
          }),
        ],
      };
    case 'fragmentation':
      return {
        kind,
        frames: rng.pick([
          () => [encodeFrame({ opcode: Opcode.Continuation, payload: small() })],
          () => [
            encodeFrame({ opcode: Opcode.Text, payload: utf8('ab'), fin: false }),
            encodeFrame({ opcode: Opcode.Binary, payload: small() }),
          ],
          () => [
            encodeFrame({ opcode: Opcode.Binary, payload: small(), fin: false }),
            encodeFrame({ opcode: Opcode.Ping, payload: small() }),
            encodeFrame({ opcode: Opcode.Continuation, payload: small() }),
          ],
          () => [encodeFrame({ opcode: Opcode.Ping, payload: small(), fin: false })],
          () =>
            Array.from({ length: rng.int(2, 300) }, (_, i) =>
              encodeFrame({ opcode: i === 0 ? Opcode.Binary : Opcode.Continuation, payload: small(), fin: false }),
            ),
          () => [
            encodeFrame({ opcode: Opcode.Text, payload: new Uint8Array([0xe2, 0x82]), fin: false }),
            encodeFrame({ opcode: Opcode.Continuation, payload: new Uint8Array([0xac]) }),
          ],
        ])(),
      };
    case 'control-too-big':
      return {
        kind,
        frames: [
          encodeFrame({
            opcode: rng.pick([Opcode.Ping, Opcode.Pong, Opcode.Close]),
            payload: rng.bytes(rng.int(126, rng.chance(0.1) ? 70_000 : 1_000)),
          }),
        ],
      };
    case 'invalid-utf8':
      return {
        kind,
        frames: [encodeFrame({ opcode: Opcode.Text, payload: concat([utf8('ok'), rng.pick(INVALID_UTF8), small()]) })],
      };
    case 'close': {
      const code = rng.pick(CLOSE_CODES);
      const reason = rng.pick([utf8('bye'), rng.pick(INVALID_UTF8), utf8('r'.repeat(rng.int(120, 130)))]);
      return {
        kind: `close-${code >= 3000 && code <= 4999 ? 'app-code' : 'code'}`,
        frames: [
          encodeFrame({
            opcode: Opcode.Close,
            payload: rng.chance(0.15) ? new Uint8Array([rng.int(0, 255)]) : closePayload(code, reason).subarray(0, 125),
          }),
        ],
      };
    }
    case 'after-close':
      return {
        kind,
        frames: [
          encodeFrame({ opcode: Opcode.Close, payload: closePayload(1000, utf8('done')) }),
          ...Array.from({ length: rng.int(1, 4) }, () =>
            encodeFrame({
              opcode: rng.pick([Opcode.Binary, Opcode.Text, Opcode.Ping, Opcode.Close]),
              payload: small(),
            }),
          ),
        ],
      };
    default:
      return {
        kind,
        frames: [
          encodeFrame({
            opcode: rng.pick([Opcode.Binary, Opcode.Text, Opcode.Pong]),
            payload: rng.bytes(rng.int(0, 300)),
          }),
        ],
      };
  }
}

/** Raw WebSocket frames after a valid upgrade to the sync endpoint (authenticated) or a document reader. */
export function wsFrameInput(rng: Prng, ctx: FuzzContext): { kind: string; request: Uint8Array; frames: Uint8Array[] } {
  const peer = rng.pick(ctx.peers);
  const sync = rng.chance(0.5);
  const greet = sync && rng.chance(0.8);
  const { kind, frames } = rawFrames(rng);
  return {
    kind: `${sync ? 'sync' : 'yjs'}/${kind}`,
    request: handshake(
      rng,
      sync ? '/v1/sync' : `/yjs/${rng.chance(0.9) ? `fz${rng.int(0, 7)}` : validSku(rng)}`,
      sync ? peer : null,
    ),
    frames: [...(greet ? [encodeFrame({ opcode: Opcode.Binary, payload: hello(peer) })] : []), ...frames],
  };
}
