import {
  ConnectionErrorReason,
  clientAddress,
  peerOf,
  refuseUpgrade,
  requestClient,
  requestTarget,
  wsTransport,
  type AddressSlots,
  type ConnectionErrors,
  type Slot,
} from '@shelfsync/edge';
import { SYNC_PATH, type StoreTokenClaims } from '@shelfsync/protocol';
import type { Transport } from '@shelfsync/sync';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { bearerToken } from './hub-auth.js';
import { YJS_PATH_PREFIX, YjsReadEndpoint } from './yjs-endpoint.js';

/**
 * Caps connections that have not authenticated, per client address: counted
 * from the moment they are accepted until a store authenticates its sync
 * upgrade. Past the cap a new connection gets a bare 429 and is closed before
 * any byte of it is parsed (the socket is paused first, so nothing of it reaches
 * the HTTP parser). A trusted reverse proxy is not one client: it carries every
 * client's connections, stores' included, and caps them per client itself.
 * Returns what marks a connection authenticated.
 */
export function limitUnauthenticated(
  server: Server,
  slots: AddressSlots,
  trusted: ReadonlySet<string>,
): (socket: Duplex) => void {
  const held = new WeakMap<Duplex, Slot>();
  server.on('connection', (socket: Socket) => {
    const peer = clientAddress(peerOf(socket), undefined, trusted);
    if (trusted.has(peer)) return;
    const slot = slots.acquire(peer);
    if (slot === null) {
      socket.pause();
      refuseUpgrade(socket, 429, { 'Retry-After': '5' });
      return;
    }
    held.set(socket, slot);
    socket.once('close', () => slot.release());
  });
  return (socket) => held.get(socket)?.release();
}

export interface UpgradeRoutes {
  readonly wss: WebSocketServer;
  readonly readers: YjsReadEndpoint;
  readonly errors: ConnectionErrors;
  /** Reverse proxies whose X-Forwarded-For names the client (for the readers' per-client cap). */
  readonly trusted: ReadonlySet<string>;
  /** A sync upgrade's token: its claims, or the challenge its 401 carries and why (a fixed word, never input). */
  verify(
    token: string | null,
  ): { ok: true; claims: StoreTokenClaims } | { ok: false; challenge: string; reason: string };
  /** A store's authenticated session, once its upgrade completed. */
  connect(claims: StoreTokenClaims, transport: Transport, ws: WebSocket): void;
  /** Marks the connection authenticated: it no longer counts against its address. */
  authenticated(socket: Duplex): void;
}

/**
 * Routes WebSocket upgrades: `/yjs/<sku>` to the document readers, `/v1/sync` to
 * store sessions once the token checks out. Whatever the request holds, the
 * answer is an upgrade or a status line and a close: a target that is not a
 * URL, a path that is not a SKU, or a handshake `ws` refuses gets 400.
 */
export function routeUpgrades(server: Server, routes: UpgradeRoutes): void {
  const { wss, readers, errors } = routes;
  errors.watchServer(wss);
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const peer = peerOf(socket);
    errors.watchUpgradeSocket(socket, peer);
    const url = requestTarget(request.url);
    if (url === null) {
      errors.record(ConnectionErrorReason.BadUpgrade, peer, { detail: 'request target is not a URL' });
      refuseUpgrade(socket, 400);
      return;
    }
    if (url.pathname.startsWith(YJS_PATH_PREFIX)) {
      const sku = YjsReadEndpoint.skuOf(url.pathname);
      if (sku === null) {
        errors.record(ConnectionErrorReason.BadUpgrade, peer, { detail: 'the path names no valid SKU' });
        refuseUpgrade(socket, 400);
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => {
        errors.watchWebSocket(ws, peer);
        readers.accept(sku, ws, requestClient(request, routes.trusted));
      });
      return;
    }
    if (url.pathname !== SYNC_PATH) {
      refuseUpgrade(socket, 404);
      return;
    }
    const token = bearerToken(request.headers.authorization) ?? url.searchParams.get('token');
    const admitted = routes.verify(token);
    if (!admitted.ok) {
      errors.limiter.warn(peer, { reason: admitted.reason }, 'store connection refused: 401');
      refuseUpgrade(socket, 401, { 'WWW-Authenticate': admitted.challenge });
      return;
    }
    routes.authenticated(socket);
    wss.handleUpgrade(request, socket, head, (ws) => {
      routes.connect(admitted.claims, wsTransport(ws, errors.webSocketErrorListener(peer)), ws);
    });
  });
}
