import { connect } from 'node:net';

/** What a server answered on a raw TCP connection, up to its close. */
export interface RawExchange {
  /** Everything received, as latin1 text (status line and headers are ASCII). */
  readonly text: string;
  /** The HTTP status of the first response, or null if none came. */
  readonly status: number | null;
  /** The code of the server's WebSocket close frame after a 101, or null. */
  readonly closeCode: number | null;
  /** Whether the server closed the connection (rather than the wait running out). */
  readonly closed: boolean;
}

/**
 * Sends `request` on a new connection to 127.0.0.1:`port`, then, once the server
 * answered 101 Switching Protocols, the raw `frames`; resolves when the server
 * closes the connection, or after `timeoutMs` (then `closed` is false).
 */
export function exchange(
  port: number,
  request: string | Buffer,
  frames: readonly Buffer[] = [],
  timeoutMs = 10_000,
): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let received = Buffer.alloc(0);
    let upgraded = false;
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      const text = received.toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      resolve({ text, status: status === undefined ? null : Number(status), closeCode: closeCodeOf(received), closed });
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (!upgraded && received.includes('\r\n\r\n') && received.toString('latin1').startsWith('HTTP/1.1 101')) {
        upgraded = true;
        for (const frame of frames) socket.write(frame);
      }
    });
    // A reset after the server's answer is an ending like a close.
    socket.on('error', () => undefined);
    socket.on('close', () => done(true));
  });
}

/** A WebSocket upgrade request for `path`; `headers` replace or add (value null: leave the header out). */
export function upgradeRequest(path: string, headers: Readonly<Record<string, string | null>> = {}): string {
  const all: Record<string, string | null> = {
    Host: 'localhost',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  const lines = Object.entries(all)
    .filter((entry): entry is [string, string] => entry[1] !== null)
    .map(([name, value]) => `${name}: ${value}\r\n`);
  return `GET ${path} HTTP/1.1\r\n${lines.join('')}\r\n`;
}

/**
 * A client WebSocket frame as a test wants it, valid or not: `opcode` (any 4 bits),
 * first-byte flags, masked unless `masked` is false, and a declared length that
 * may differ from the payload's (to announce a message larger than is sent).
 */
export function frame(
  opcode: number,
  payload: Buffer = Buffer.alloc(0),
  options: { rsv?: number; masked?: boolean; declaredLength?: number } = {},
): Buffer {
  const length = options.declaredLength ?? payload.length;
  const masked = options.masked ?? true;
  const first = 0x80 | ((options.rsv ?? 0) << 4) | (opcode & 0x0f);
  let header: Buffer;
  if (length < 126) header = Buffer.from([first, (masked ? 0x80 : 0) | length]);
  else if (length < 0x10000) {
    header = Buffer.alloc(4);
    header.writeUInt8(first, 0);
    header.writeUInt8((masked ? 0x80 : 0) | 126, 1);
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header.writeUInt8(first, 0);
    header.writeUInt8((masked ? 0x80 : 0) | 127, 1);
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  // A zero mask leaves the payload as is.
  return Buffer.concat([header, masked ? Buffer.alloc(4) : Buffer.alloc(0), payload]);
}

/** The code in the first close frame the server sent after its 101 response, or null. */
function closeCodeOf(received: Buffer): number | null {
  const end = received.indexOf('\r\n\r\n');
  if (end < 0 || !received.toString('latin1').startsWith('HTTP/1.1 101')) return null;
  let at = end + 4;
  while (at + 2 <= received.length) {
    const opcode = (received[at] ?? 0) & 0x0f;
    let length = (received[at + 1] ?? 0) & 0x7f;
    let start = at + 2;
    if (length === 126) {
      length = received.readUInt16BE(start);
      start += 2;
    } else if (length === 127) {
      length = Number(received.readBigUInt64BE(start));
      start += 8;
    }
    if (opcode === 0x8) return length >= 2 && start + 2 <= received.length ? received.readUInt16BE(start) : null;
    at = start + length;
  }
  return null;
}
