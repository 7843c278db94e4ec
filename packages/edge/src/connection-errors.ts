import { ErrorCode, shelfsyncError, toProblem } from '@shelfsync/protocol';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Metrics } from './metrics.js';
import { PeerLogLimiter } from './peer-log-limiter.js';

/**
 * Why a connection failed at the wire, as the `reason` label of
 * `shelfsync_connection_errors_total`: a fixed set, never client input.
 */
export const ConnectionErrorReason = {
  /** The HTTP parser refused the request (request line, headers, framing), or its target is not a URL. */
  BadRequestLine: 'bad_request_line',
  /** The request headers were larger than the parser takes. */
  HeaderTooLarge: 'header_too_large',
  /** The request did not arrive in time. */
  RequestTimeout: 'request_timeout',
  /** A WebSocket upgrade with a bad target, path, method, key, version or header. */
  BadUpgrade: 'bad_upgrade',
  /** A WebSocket text frame (or close reason) that is not UTF-8. */
  InvalidUtf8: 'invalid_utf8',
  /** A WebSocket message over the size limit. */
  PayloadTooLarge: 'payload_too_large',
  /** A WebSocket frame with a reserved or unknown opcode. */
  BadOpcode: 'bad_opcode',
  /** Any other WebSocket framing violation (RSV bits, masking, control frame length, close code). */
  ProtocolError: 'protocol_error',
  /** The socket itself failed (reset, broken pipe) outside an orderly close. */
  SocketError: 'socket_error',
} as const;
export type ConnectionErrorReason = (typeof ConnectionErrorReason)[keyof typeof ConnectionErrorReason];

/** The reason for an error the `ws` library emitted (its `code` names the violation). */
export function wsErrorReason(error: unknown): ConnectionErrorReason {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('WS_ERR_')) return ConnectionErrorReason.SocketError;
  if (code === 'WS_ERR_INVALID_UTF8') return ConnectionErrorReason.InvalidUtf8;
  if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return ConnectionErrorReason.PayloadTooLarge;
  if (code === 'WS_ERR_INVALID_OPCODE') return ConnectionErrorReason.BadOpcode;
  return ConnectionErrorReason.ProtocolError;
}

/** The client address of a socket, for logs and per-address limits. */
export function peerOf(socket: Duplex | undefined): string {
  const address = (socket as { remoteAddress?: unknown } | undefined)?.remoteAddress;
  return typeof address === 'string' ? address : 'unknown';
}

const CONNECTION_ERRORS = 'shelfsync_connection_errors_total';

/**
 * Counts and logs what peers do wrong at the wire: one metric by reason, and one
 * warn line per failure, limited per peer (`PeerLogLimiter`). It also gives every
 * socket it watches an error listener: an error event without one ends the process.
 */
export class ConnectionErrors {
  private readonly counter: Counter<'reason'> | null;
  readonly limiter: PeerLogLimiter;

  constructor(log: Logger, metrics?: Metrics, limiter: PeerLogLimiter = new PeerLogLimiter(log)) {
    this.limiter = limiter;
    this.counter =
      metrics?.sharedCounter(CONNECTION_ERRORS, 'Connections that failed at the wire, by reason', ['reason']) ?? null;
    for (const reason of Object.values(ConnectionErrorReason)) this.counter?.inc({ reason }, 0);
  }

  /** Counts one failure and logs it at warn, unless this peer already used its log lines. */
  record(reason: ConnectionErrorReason, peer: string, fields: Record<string, unknown> = {}): void {
    this.counter?.inc({ reason });
    this.limiter.warn(peer, { reason, ...fields }, 'connection error');
  }

  /** Counts without logging: for what is ordinary on the internet (a peer resetting its connection). */
  count(reason: ConnectionErrorReason): void {
    this.counter?.inc({ reason });
  }

  /**
   * Gives an accepted WebSocket its error listener. `ws` has already closed the
   * connection with the standard code (1002, 1007, 1009) when it emits.
   */
  watchWebSocket(socket: WebSocket, peer: string): void {
    socket.on('error', this.webSocketErrorListener(peer));
  }

  /** The error listener `watchWebSocket` adds, for a socket whose adapter takes one (`wsTransport`). */
  webSocketErrorListener(peer: string): (error: Error) => void {
    return (error) => this.recordSocketError(wsErrorReason(error), peer, error);
  }

  /** Gives a raw upgrade socket its error listener: Node removes its own when it emits `upgrade`. */
  watchUpgradeSocket(socket: Duplex, peer: string): void {
    socket.on('error', (error: Error) => {
      this.recordSocketError(ConnectionErrorReason.SocketError, peer, error);
      socket.destroy();
    });
  }

  /**
   * Handles a WebSocketServer's own errors and its refused handshakes (bad key,
   * version, method, subprotocol or extension header): 400, closed, counted.
   */
  watchServer(server: WebSocketServer): void {
    server.on('error', (error: Error) =>
      this.record(ConnectionErrorReason.SocketError, 'server', { err: error.message }),
    );
    server.on('wsClientError', (error: Error, socket: Duplex, request: IncomingMessage) => {
      this.record(ConnectionErrorReason.BadUpgrade, peerOf(request.socket), { detail: error.message });
      refuseUpgrade(socket, 400);
    });
  }

  /**
   * Node's `clientError`: a request the HTTP parser refused gets a 400 (431, 408)
   * with `Connection: close` when the socket can still take it, and no stack
   * trace in the log; a reset connection is counted quietly.
   */
  watchHttpServer(server: Server): void {
    // After listening, a failed accept (too many open files) is an error event on the server.
    server.on('error', (error: Error) => {
      // Before it listens, `listen` reports the error (a port in use) to its caller.
      if (!server.listening) return;
      const code = (error as { code?: unknown }).code;
      this.record(ConnectionErrorReason.SocketError, 'server', { code: typeof code === 'string' ? code : 'unknown' });
    });
    server.on('clientError', (error: Error, socket: Duplex) => {
      const code = (error as { code?: unknown }).code;
      if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable) {
        this.count(ConnectionErrorReason.SocketError);
        socket.destroy();
        return;
      }
      const [reason, status] =
        code === 'HPE_HEADER_OVERFLOW'
          ? [ConnectionErrorReason.HeaderTooLarge, 431]
          : code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [ConnectionErrorReason.RequestTimeout, 408]
            : [ConnectionErrorReason.BadRequestLine, 400];
      this.record(reason, peerOf(socket), { code: typeof code === 'string' ? code : 'unknown' });
      // A response already under way cannot take another status line.
      const current = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
      if (current?.headersSent === true) socket.destroy();
      else refuseUpgrade(socket, status);
    });
  }

  /**
   * Answers a request whose target is not a URL (Koa would throw parsing it)
   * with 400 problem+json; returns false when the target is fine.
   */
  refuseBadTarget(request: IncomingMessage, response: ServerResponse): boolean {
    if (requestTarget(request.url) !== null) return false;
    this.record(ConnectionErrorReason.BadRequestLine, peerOf(request.socket), {
      detail: 'request target is not a URL',
    });
    const body = JSON.stringify(
      toProblem(shelfsyncError(ErrorCode.ValidationFailed, 'the request target is not a valid URL')),
    );
    response.writeHead(400, {
      'Content-Type': 'application/problem+json',
      'Content-Length': Buffer.byteLength(body),
      Connection: 'close',
    });
    response.end(body);
    return true;
  }

  private recordSocketError(reason: ConnectionErrorReason, peer: string, error: Error): void {
    const code = (error as { code?: unknown }).code;
    // A reset is ordinary: counted, not logged.
    if (code === 'ECONNRESET' || code === 'EPIPE') this.count(reason);
    else this.record(reason, peer, { code: typeof code === 'string' ? code : 'unknown' });
  }
}

/**
 * The URL of a request target, or null when it is none: origin-form (`/path`)
 * resolved against a placeholder origin, absolute-form only when it parses,
 * `*` for OPTIONS. Anything else is refused before a framework parses it.
 */
export function requestTarget(target: string | undefined): URL | null {
  if (target === undefined || target === '') return null;
  try {
    if (target === '*') return new URL('http://localhost/');
    if (target.startsWith('/')) return new URL(target, 'http://localhost');
    const url = new URL(target);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

const REASON_PHRASE: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  408: 'Request Timeout',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  503: 'Service Unavailable',
};

/** Answers a raw socket (an upgrade, or a request the parser refused) with a bare status and closes it. */
export function refuseUpgrade(socket: Duplex, status: number, headers: Readonly<Record<string, string>> = {}): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${REASON_PHRASE[status] ?? 'Error'}\r\nConnection: close\r\nContent-Length: 0\r\n${extra}\r\n`,
  );
}
