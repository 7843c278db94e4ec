import { connect } from 'node:net';
import { concat, type FuzzInput } from './input.js';
import { SYNC_PING } from './ws-frame.js';

/** What became of one input. */
export interface Outcome {
  /** The status of the server's answer (101 for an upgrade), or null when it answered none. */
  readonly status: number | null;
  /**
   * How the exchange ended: the server answered (a status, or for frames its
   * pong: it read them all and kept the connection), closed it (for frames: a
   * close frame or the socket), or we gave up waiting.
   */
  readonly ended: 'answered' | 'pong' | 'closed' | 'error' | 'timeout';
}

const MAX_READ = 64 * 1024;

/**
 * Sends one input on its own TCP connection and waits for the answer: a status
 * line for HTTP; for WebSocket inputs, after a 101, the frames and a ping, then
 * the pong (the server read everything and lives) or the close. The connection
 * is then reset, so a million inputs leave no TIME_WAIT sockets behind.
 */
export function sendInput(input: FuzzInput, port: number, localAddress: string, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    let buffer = Buffer.alloc(0);
    let status: number | null = null;
    let headerEnd = -1;
    let framesSent = false;
    let done = false;
    const finish = (ended: Outcome['ended']): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // A server may close before finishing its head: its status line still counts.
      status ??= statusOf(buffer);
      if (!socket.destroyed) {
        if (socket.readyState === 'open' || socket.readyState === 'readOnly' || socket.readyState === 'writeOnly') {
          socket.resetAndDestroy();
        } else socket.destroy();
      }
      resolve({ status, ended });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('error', () => finish('error'));
    socket.on('close', () => finish('closed'));
    socket.on('end', () => finish('closed'));
    socket.on('connect', () => {
      socket.write(input.request);
      if (input.end) socket.end();
    });
    socket.on('data', (chunk: Buffer) => {
      if (buffer.length < MAX_READ) buffer = Buffer.concat([buffer, chunk]);
      if (headerEnd < 0) {
        const parsed = parseHead(buffer);
        if (parsed === null) return;
        status = parsed.status;
        headerEnd = parsed.end;
        if (status !== 101 || input.frames.length === 0) {
          finish('answered');
          return;
        }
      }
      if (!framesSent) {
        framesSent = true;
        socket.write(concat([...input.frames, SYNC_PING]));
      }
      const answer = serverAnswer(buffer.subarray(headerEnd));
      if (answer !== null) finish(answer);
    });
  });
}

/** The status and the end of the response head, skipping 100 Continue; null until the head is complete. */
function parseHead(buffer: Buffer): { status: number; end: number } | null {
  let from = 0;
  for (;;) {
    const end = buffer.indexOf('\r\n\r\n', from);
    if (end < 0) return null;
    const status = statusOf(buffer.subarray(from, end)) ?? 0;
    if (status !== 100) return { status, end: end + 4 };
    from = end + 4;
  }
}

function statusOf(bytes: Buffer): number | null {
  const line = /^HTTP\/1\.[01] (\d{3})/.exec(bytes.subarray(0, 16).toString('latin1'));
  return line?.[1] === undefined ? null : Number(line[1]);
}

/** 'pong' or 'closed' once the server's frames include a pong or a close, else null. */
function serverAnswer(bytes: Buffer): 'pong' | 'closed' | null {
  let at = 0;
  while (at + 2 <= bytes.length) {
    const opcode = (bytes[at] ?? 0) & 0x0f;
    let length = (bytes[at + 1] ?? 0) & 0x7f;
    let head = 2;
    if (length === 126) {
      if (at + 4 > bytes.length) return null;
      length = bytes.readUInt16BE(at + 2);
      head = 4;
    } else if (length === 127) {
      if (at + 10 > bytes.length) return null;
      length = Number(bytes.readBigUInt64BE(at + 2));
      head = 10;
    }
    if (opcode === 0x8) return 'closed';
    if (opcode === 0xa) return 'pong';
    at += head + length;
  }
  return null;
}
