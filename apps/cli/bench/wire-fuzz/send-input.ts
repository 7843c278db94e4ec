import { connect, type Socket } from 'node:net';
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

/** Resets a socket (RST, not FIN): a million inputs then leave no TIME_WAIT sockets behind. */
function reset(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.readyState === 'open' || socket.readyState === 'readOnly' || socket.readyState === 'writeOnly') {
    socket.resetAndDestroy();
  } else socket.destroy();
}

/**
 * An upgraded connection, read frame by frame: each exchange writes frames and
 * a ping and waits for the pong (the server read them all and kept the
 * connection) or a close.
 */
export class FrameSession {
  closed = false;
  private buffer: Buffer;
  private waiter: ((ended: 'pong' | 'closed') => void) | null = null;

  constructor(
    private readonly socket: Socket,
    rest: Buffer,
  ) {
    this.buffer = rest;
    socket.removeAllListeners('data');
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.read();
    });
    const gone = (): void => this.settle('closed');
    socket.on('close', gone);
    socket.on('end', gone);
    socket.on('error', gone);
    this.read();
  }

  exchange(frames: readonly Uint8Array[], timeoutMs: number): Promise<'pong' | 'closed' | 'timeout'> {
    if (this.closed) return Promise.resolve('closed');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve('timeout');
      }, timeoutMs);
      this.waiter = (ended) => {
        clearTimeout(timer);
        resolve(ended);
      };
      this.socket.write(concat([...frames, SYNC_PING]));
    });
  }

  destroy(): void {
    this.closed = true;
    reset(this.socket);
  }

  private settle(ended: 'pong' | 'closed'): void {
    if (ended === 'closed') this.closed = true;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.(ended);
  }

  /** Consumes the whole frames in the buffer; a pong or a close settles the exchange. */
  private read(): void {
    for (;;) {
      const bytes = this.buffer;
      if (bytes.length < 2) return;
      const opcode = (bytes[0] ?? 0) & 0x0f;
      let length = (bytes[1] ?? 0) & 0x7f;
      let head = 2;
      if (length === 126) {
        if (bytes.length < 4) return;
        length = bytes.readUInt16BE(2);
        head = 4;
      } else if (length === 127) {
        if (bytes.length < 10) return;
        length = Number(bytes.readBigUInt64BE(2));
        head = 10;
      }
      if (bytes.length < head + length) return;
      this.buffer = bytes.subarray(head + length);
      if (opcode === 0x8) this.settle('closed');
      else if (opcode === 0xa) this.settle('pong');
    }
  }
}

/**
 * Sends one input on its own TCP connection and waits for the answer: a status
 * line for HTTP; for WebSocket inputs, after a 101, the frames and a ping, then
 * the pong or the close. The connection is then reset, unless `keep` asks for
 * the session of a frame input the server read to the end: it is returned, for
 * the next frame input to use.
 */
export function sendInput(
  input: FuzzInput,
  port: number,
  localAddress: string,
  timeoutMs: number,
  keep = false,
): Promise<{ outcome: Outcome; session: FrameSession | null }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    let buffer = Buffer.alloc(0);
    let done = false;
    const finish = (outcome: Outcome, session: FrameSession | null = null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (session === null) reset(socket);
      resolve({ outcome, session });
    };
    // A server may close before finishing its head: its status line still counts.
    const unanswered = (ended: Outcome['ended']): void => finish({ status: statusOf(buffer), ended });
    const timer = setTimeout(() => unanswered('timeout'), timeoutMs);
    socket.on('error', () => unanswered('error'));
    socket.on('close', () => unanswered('closed'));
    socket.on('end', () => unanswered('closed'));
    socket.on('connect', () => {
      socket.write(input.request);
      if (input.end) socket.end();
    });
    socket.on('data', (chunk: Buffer) => {
      if (buffer.length < 64 * 1024) buffer = Buffer.concat([buffer, chunk]);
      const head = parseHead(buffer);
      if (head === null) return;
      if (head.status !== 101 || input.frames.length === 0) {
        finish({ status: head.status, ended: 'answered' });
        return;
      }
      clearTimeout(timer);
      done = true;
      socket.removeAllListeners('close');
      socket.removeAllListeners('end');
      socket.removeAllListeners('error');
      const session = new FrameSession(socket, buffer.subarray(head.end));
      void session.exchange(input.frames, timeoutMs).then((ended) => {
        const kept = keep && ended === 'pong';
        if (!kept) session.destroy();
        resolve({ outcome: { status: 101, ended }, session: kept ? session : null });
      });
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
