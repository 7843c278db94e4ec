import type { Transport } from '@shelfsync/sync';
import * as decoding from 'lib0/decoding';

/**
 * What a frame on a store's link is for. `framing` is the WebSocket header each
 * frame would carry (RFC 6455: 2 bytes up to 125 payload bytes, 4 up to 65,535,
 * 10 beyond; 4 more for the mask on frames a client sends).
 */
export const FRAME_CLASSES = [
  'handshake',
  'catch-up',
  'store update',
  'relay',
  'ack',
  'top-up',
  'release',
  'summary',
  'cursor',
  'report',
  'error',
  'framing',
] as const;
export type FrameClass = (typeof FRAME_CLASSES)[number];

/** Store to hub (`up`) or hub to store (`down`). */
export type Direction = 'up' | 'down';

const DOC = 0;
const UPDATE = 2;

/** The class of an encoded frame (see packages/sync/src/frames.ts for the layout), read without decoding its payload. */
export function classify(frame: Uint8Array, direction: Direction): Exclude<FrameClass, 'framing'> {
  const decoder = decoding.createDecoder(frame);
  if (decoding.readVarUint(decoder) === DOC) {
    decoding.readVarString(decoder); // the SKU
    decoding.readVarUint(decoder); // the reference
    if (decoding.readVarUint(decoder) !== UPDATE) return 'catch-up';
    return direction === 'up' ? 'store update' : 'relay';
  }
  const type = /"type":"([a-z-]+)"/.exec(decoding.readVarString(decoder))?.[1];
  switch (type) {
    case 'hello':
    case 'welcome':
      return 'handshake';
    case 'ack':
      return 'ack';
    case 'topup':
    case 'topup-result':
      return 'top-up';
    case 'release':
      return 'release';
    case 'available':
    case 'follow':
      return 'summary';
    case 'cursor':
      return 'cursor';
    case 'refused':
      return 'report';
    default:
      return 'error';
  }
}

/** The WebSocket header of a frame of `length` payload bytes (client frames are masked). */
export function wsHeaderBytes(length: number, direction: Direction): number {
  const base = length <= 125 ? 2 : length <= 0xffff ? 4 : 10;
  return direction === 'up' ? base + 4 : base;
}

/**
 * Counts every frame that crosses a store's link, both ways, by class, as the
 * receiving side gets it, and knows how many bytes are sent and not yet delivered.
 */
export class WireMeter {
  readonly bytes = new Map<FrameClass, number>();
  readonly frames = new Map<FrameClass, number>();
  /** Frames delivered since the meter was made (never reset): the chain is quiet when it stops moving. */
  delivered = 0;
  private readonly links = new Set<Transport>();

  /** Wraps the transport of one end of a link; `direction` is the way frames it receives travel. */
  receiving(transport: Transport, direction: Direction): Transport {
    const links = this.links;
    const count = (frame: Uint8Array): void => this.count(frame, direction);
    links.add(transport);
    return {
      send: (frame) => transport.send(frame),
      close: (code, reason) => {
        transport.close(code, reason);
      },
      get bufferedAmount() {
        return transport.bufferedAmount;
      },
      onMessage: (handler) =>
        transport.onMessage((frame) => {
          count(frame);
          handler(frame);
        }),
      onClose: (handler) =>
        transport.onClose((code, reason) => {
          links.delete(transport);
          handler(code, reason);
        }),
    };
  }

  /** Bytes sent on a live link and not yet delivered. */
  get inFlight(): number {
    let bytes = 0;
    for (const link of this.links) bytes += link.bufferedAmount;
    return bytes;
  }

  total(): number {
    let sum = 0;
    for (const bytes of this.bytes.values()) sum += bytes;
    return sum;
  }

  reset(): void {
    this.bytes.clear();
    this.frames.clear();
  }

  private count(frame: Uint8Array, direction: Direction): void {
    this.delivered++;
    const kind = classify(frame, direction);
    this.add(kind, frame.byteLength);
    this.add('framing', wsHeaderBytes(frame.byteLength, direction));
  }

  private add(kind: FrameClass, bytes: number): void {
    this.bytes.set(kind, (this.bytes.get(kind) ?? 0) + bytes);
    this.frames.set(kind, (this.frames.get(kind) ?? 0) + 1);
  }
}
