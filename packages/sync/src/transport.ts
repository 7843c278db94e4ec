/**
 * One connection between a store and the hub, as the sync sessions see it.
 * The WebSocket adapter lives in the apps; tests use `createTransportPair`.
 */
export interface Transport {
  /** Queues one frame for the peer. Frames arrive in order. */
  send(frame: Uint8Array): void;
  /** Closes the connection with a code from `CloseCode`. */
  close(code: number, reason: string): void;
  /** Bytes queued and not yet written (a WebSocket's `bufferedAmount`). */
  readonly bufferedAmount: number;
  /** Registers the handler for incoming frames (one handler). */
  onMessage(handler: (frame: Uint8Array) => void): void;
  /** Registers the handler for the close of the connection, from either side (one handler). */
  onClose(handler: (code: number, reason: string) => void): void;
}

/** Options of an in-memory connection. */
export interface TransportPairOptions {
  /**
   * Microtask hops each frame waits before delivery, drawn per frame (from a
   * seeded generator in simulations): frames in one direction still arrive in
   * order, but the two directions interleave as a slow link would interleave them.
   */
  readonly delay?: () => number;
}

/**
 * Two connected in-memory transports. Delivery is by microtask, in order, so
 * tests need no timers; `bufferedAmount` counts bytes sent and not yet delivered.
 */
export function createTransportPair(options: TransportPairOptions = {}): [Transport, Transport] {
  const a = new MemoryTransport(options.delay);
  const b = new MemoryTransport(options.delay);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

class MemoryTransport implements Transport {
  peer: MemoryTransport | null = null;
  bufferedAmount = 0;
  private messageHandler: (frame: Uint8Array) => void = () => {};
  private closeHandler: (code: number, reason: string) => void = () => {};
  private closed = false;
  /** The delivery of the last frame sent, which the next one (and the close) waits for. */
  private delivered: Promise<void> = Promise.resolve();

  constructor(private readonly delay?: () => number) {}

  send(frame: Uint8Array): void {
    if (this.closed) return;
    const copy = frame.slice();
    this.bufferedAmount += copy.byteLength;
    const deliver = (): void => {
      this.bufferedAmount -= copy.byteLength;
      this.peer?.messageHandler(copy);
    };
    // Like a WebSocket, frames sent before close() still arrive: the close is
    // queued behind them.
    if (this.delay === undefined) queueMicrotask(deliver);
    else this.delivered = Promise.all([this.delivered, hops(this.delay())]).then(deliver);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    const peer = this.peer;
    const queued = this.delay === undefined ? queueMicrotask : (run: () => void) => void this.delivered.then(run);
    queued(() => {
      this.closeHandler(code, reason);
      if (peer !== null && !peer.closed) {
        peer.closed = true;
        peer.closeHandler(code, reason);
      }
      this.messageHandler = () => {};
      if (peer !== null) peer.messageHandler = () => {};
    });
  }

  onMessage(handler: (frame: Uint8Array) => void): void {
    this.messageHandler = handler;
  }

  onClose(handler: (code: number, reason: string) => void): void {
    this.closeHandler = handler;
  }
}

/** Resolves after `count` microtask hops. */
async function hops(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await Promise.resolve();
}
