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

/**
 * Two connected in-memory transports. Delivery is by microtask, in order, so
 * tests need no timers; `bufferedAmount` counts bytes sent and not yet delivered.
 */
export function createTransportPair(): [Transport, Transport] {
  const a = new MemoryTransport();
  const b = new MemoryTransport();
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

  send(frame: Uint8Array): void {
    if (this.closed) return;
    const copy = frame.slice();
    this.bufferedAmount += copy.byteLength;
    // Like a WebSocket, frames sent before close() still arrive: the close is
    // queued behind them.
    queueMicrotask(() => {
      this.bufferedAmount -= copy.byteLength;
      this.peer?.messageHandler(copy);
    });
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    const peer = this.peer;
    queueMicrotask(() => {
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
