/** WebSocket framing written by hand (RFC 6455 §5.2), so a frame may break any rule on purpose. */

export const Opcode = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const;

export interface FrameSpec {
  readonly opcode: number;
  readonly payload: Uint8Array;
  readonly fin?: boolean;
  /** The three reserved bits (0-7); anything but 0 is a protocol error without an extension. */
  readonly rsv?: number;
  /** The masking key; null sends the frame unmasked, which a server must refuse. */
  readonly mask?: Uint8Array | null;
  /** The length encoding: the shortest that fits, or a forced 7-, 16- or 64-bit form. */
  readonly lengthForm?: 'auto' | 7 | 16 | 64;
  /** The length written in the header, when it should differ from the payload's. */
  readonly declaredLength?: bigint;
}

/** Encodes one frame exactly as `spec` says, lies included. */
export function encodeFrame(spec: FrameSpec): Uint8Array {
  const { opcode, payload, fin = true, rsv = 0, lengthForm = 'auto' } = spec;
  const mask = spec.mask === undefined ? new Uint8Array([0x12, 0x34, 0x56, 0x78]) : spec.mask;
  const length = spec.declaredLength ?? BigInt(payload.length);
  const form = lengthForm !== 'auto' ? lengthForm : length < 126n ? 7 : length < 65_536n ? 16 : 64;
  const header: number[] = [(fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f)];
  const maskBit = mask === null ? 0 : 0x80;
  if (form === 7) header.push(maskBit | Number(length & 0x7fn));
  else if (form === 16) header.push(maskBit | 126, Number((length >> 8n) & 0xffn), Number(length & 0xffn));
  else {
    header.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) header.push(Number((length >> shift) & 0xffn));
  }
  const body = new Uint8Array(payload.length);
  for (let i = 0; i < payload.length; i += 1) {
    body[i] = (payload[i] ?? 0) ^ (mask === null ? 0 : (mask[i & 3] ?? 0));
  }
  const out = new Uint8Array(header.length + (mask?.length ?? 0) + body.length);
  out.set(header, 0);
  if (mask !== null) out.set(mask, header.length);
  out.set(body, header.length + (mask?.length ?? 0));
  return out;
}

/** A well-formed masked ping: the runner ends each frame sequence with one and waits for the pong. */
export const SYNC_PING = encodeFrame({ opcode: Opcode.Ping, payload: new TextEncoder().encode('fuzz-sync') });

/** A close frame's payload: the code (two bytes) and the reason. */
export function closePayload(code: number, reason: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + reason.length);
  out[0] = (code >> 8) & 0xff;
  out[1] = code & 0xff;
  out.set(reason, 2);
  return out;
}
