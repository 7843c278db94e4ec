import { ConnectionErrorReason, wsErrorReason, wsTransport, type Logger } from '@shelfsync/edge';
import { CloseCode, SYNC_PATH } from '@shelfsync/protocol';
import { backoffDelay, type StoreSync } from '@shelfsync/sync';
import { WebSocket } from 'ws';

/**
 * Keeps a store connected to its hub: one WebSocket, authenticated with the
 * store token in the upgrade request, reattached to the store's sync on every
 * reconnect, retried with exponential backoff and jitter.
 */
export class HubLink {
  private socket: WebSocket | null = null;
  private attempt = 0;
  /** Reconnections the hub closed at once because an operator cut this store's link. */
  private refusedInARow = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(
    private readonly hubUrl: string,
    private readonly token: string,
    private readonly sync: StoreSync,
    private readonly log: Logger,
    private readonly random: () => number = Math.random,
  ) {}

  start(): void {
    this.connect();
  }

  /** Drops the connection now (it reconnects on its own unless stopped). */
  drop(): void {
    this.socket?.terminate();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.sync.detach();
    this.socket?.terminate();
  }

  private connect(): void {
    if (this.stopped) return;
    const url = new URL(this.hubUrl);
    if (url.pathname === '/' || url.pathname === '') url.pathname = SYNC_PATH;
    const socket = new WebSocket(url, {
      headers: { Authorization: `Bearer ${this.token}` },
      maxPayload: 8 * 1024 * 1024,
    });
    this.socket = socket;
    socket.on('open', () => {
      this.attempt = 0;
      this.log.info({ hub: this.hubUrl }, 'connected to hub');
      this.sync.attach(wsTransport(socket));
    });
    socket.on('unexpected-response', (_request, response) => {
      this.log.error({ status: response.statusCode }, 'hub refused the connection (check the store token)');
      socket.terminate();
    });
    // Always listened to: `ws` closes the socket itself (1002, 1007, 1009) and the
    // close below reconnects with backoff, which also bounds these lines.
    socket.on('error', (error) => {
      const reason = wsErrorReason(error);
      if (reason === ConnectionErrorReason.SocketError) this.log.debug({ err: error.message }, 'hub connection error');
      else this.log.warn({ reason }, 'the hub broke the WebSocket protocol; reconnecting');
    });
    socket.on('close', (code, reason) => {
      if (this.socket === socket) this.socket = null;
      if (this.stopped) return;
      // A cut link opens and closes at once: back off as from a failed attempt, not
      // as from a fresh session, or the store would retry several times a second.
      const cut = code === CloseCode.LinkCut.code;
      this.refusedInARow = cut ? this.refusedInARow + 1 : 0;
      const delay = backoffDelay(cut ? this.refusedInARow - 1 : this.attempt++, this.random);
      if (cut) this.log.warn({ retryInMs: delay }, "the hub cut this store's link: selling from local quota");
      else this.log.info({ code, reason: reason.toString('utf8'), retryInMs: delay }, 'hub connection closed');
      this.timer = setTimeout(() => this.connect(), delay);
      this.timer.unref();
    });
  }
}
