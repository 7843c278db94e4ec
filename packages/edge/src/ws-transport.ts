import type { Transport } from '@shelfsync/sync';
import type { RawData, WebSocket } from 'ws';

/**
 * Adapts a `ws` WebSocket to the sync Transport: binary frames, close codes,
 * buffered bytes. The socket always gets an error listener (`onError`, or one
 * that ignores): `ws` closes the connection itself on a protocol violation
 * (1002, 1007, 1009) and then emits `error`, which without a listener would end
 * the process. The close reaches the session through `onClose` as usual.
 */
export function wsTransport(socket: WebSocket, onError: (error: Error) => void = () => undefined): Transport {
  socket.on('error', onError);
  return {
    send(frame) {
      if (socket.readyState === socket.OPEN) socket.send(frame, { binary: true });
    },
    close(code, reason) {
      if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(code, reason);
    },
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    onMessage(handler) {
      socket.on('message', (data: RawData, isBinary: boolean) => {
        // Text frames are not part of the protocol: hand them on as bytes so the
        // session rejects them as malformed, instead of dropping them silently.
        handler(toBytes(data, isBinary));
      });
    },
    onClose(handler) {
      socket.on('close', (code: number, reason: Buffer) => handler(code, reason.toString('utf8')));
    },
  };
}

function toBytes(data: RawData, _isBinary: boolean): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
