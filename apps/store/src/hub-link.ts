import { ConnectionErrorReason, wsErrorReason, wsTransport, type Logger } from '@shelfsync/edge';
import {
  CloseCode,
  Recovery,
  SYNC_PATH,
  closeCodeName,
  closeRecovery,
  readStoreTokenClaims,
} from '@shelfsync/protocol';
import { backoffDelay, type StoreSync } from '@shelfsync/sync';
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { STOP_KIND, stopDetail, stopsAndAlerts, type HubLinkProblem, type ProblemKind } from './hub-link-problems.js';
import { HubNodes } from './hub-nodes.js';

export type { HubLinkProblem } from './hub-link-problems.js';

export interface HubLinkOptions {
  /** The hub's address, or its nodes' addresses comma-separated (`--hub`). */
  readonly hubUrl: string;
  /** The store token, read again before every attempt (from --token-file: a new token needs no restart). Throws if unreadable. */
  readonly token: () => string;
  /** Whether `token` reads a file, which is then watched while the hub refuses the token. */
  readonly tokenFromFile: boolean;
  /** How long to wait after the hub refused the credentials, or before sending a token that has expired. */
  readonly authRetryMs: number;
  readonly random?: () => number;
  readonly now?: () => number;
}

/** A session that lasted this long was healthy: the next reconnection starts the backoff afresh. */
const HEALTHY_SESSION_MS = 10_000;

/** A token this close to its expiry is logged once, so its successor is issued in time. */
const EXPIRY_WARNING_MS = 7 * 86_400_000;

/**
 * Keeps a store connected to its hub: one WebSocket, authenticated with the
 * store token in the upgrade request, reattached to the store's sync on every
 * reconnect. A close is handled by its recovery class (the CloseCode table):
 * `retry` (and a code not in the table) reconnects with exponential backoff and
 * jitter; `resync` reconnects at once, for the new session's full catch-up,
 * unless the link is already failing; `stop-and-alert` is not retried in a loop:
 * the store says why (`problem`, logged at error once per problem), waits
 * `authRetryMs`, and tries again at once when its token file changes. A token
 * that cannot work (expired by its own `exp`, refused with 401) is handled so too.
 */
export class HubLink {
  private socket: WebSocket | null = null;
  private attempt = 0;
  /** Reconnections the hub closed at once because an operator cut this store's link. */
  private refusedInARow = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private watcher: ReturnType<typeof setInterval> | null = null;
  private stopped = false;
  private sentToken = '';
  private warnedFor = '';
  /** The kind of problem last logged at error level; attempts that meet it again log at info. */
  private alertedFor = '';
  private currentProblem: HubLinkProblem | null = null;
  private expiresAt: number | null = null;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly nodes: HubNodes;

  constructor(
    private readonly options: HubLinkOptions,
    private readonly sync: StoreSync,
    private readonly log: Logger,
  ) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.nodes = new HubNodes(options.hubUrl);
  }

  /** The hub node the link uses (or will try next). */
  get hubNode(): string {
    return this.nodes.current;
  }

  start(): void {
    this.connect();
  }

  /** Why the link is down, while it is. */
  get problem(): HubLinkProblem | null {
    return this.currentProblem;
  }

  /** The expiry (ms since the epoch) of the token last read; null if it could not be read. */
  get tokenExpiresAt(): number | null {
    return this.expiresAt;
  }

  /** Drops the connection now (it reconnects on its own unless stopped). */
  drop(): void {
    this.socket?.terminate();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    this.sync.detach();
    this.socket?.terminate();
  }

  private connect(): void {
    this.clearTimers();
    if (this.stopped) return;
    const token = this.readToken();
    if (token === null) return;
    const target = this.hubNode;
    const url = new URL(target);
    if (url.pathname === '/' || url.pathname === '') url.pathname = SYNC_PATH;
    const socket = new WebSocket(url, {
      headers: { Authorization: `Bearer ${token}` },
      maxPayload: 8 * 1024 * 1024,
    });
    this.socket = socket;
    let opened = false;
    let openedAt = 0;
    let refused: { kind: ProblemKind; detail: string; status: number } | null = null;
    socket.on('open', () => {
      opened = true;
      openedAt = this.now();
      this.currentProblem = null;
      this.nodes.opened();
      this.log.info({ hub: target }, 'connected to hub');
      this.sync.attach(wsTransport(socket));
    });
    socket.on('unexpected-response', (_request, response: IncomingMessage) => {
      const status = response.statusCode ?? 0;
      if (status === 401) {
        const reason = /error_description="([^"]*)"/.exec(String(response.headers['www-authenticate'] ?? ''))?.[1];
        refused = {
          kind: reason === 'expired' ? 'token-expired' : 'unauthorized',
          detail: `the hub refused the store token (401${reason === undefined ? '' : `: ${reason}`}); put a new token in place (shelfsync token)`,
          status,
        };
      }
      this.log.error({ status }, 'hub refused the connection');
      socket.terminate();
    });
    // Always listened to: `ws` closes the socket itself (1002, 1007, 1009) and the
    // close below reconnects with backoff (their class is retry), which also bounds these lines.
    socket.on('error', (error) => {
      const reason = wsErrorReason(error);
      if (reason === ConnectionErrorReason.SocketError) this.log.debug({ err: error.message }, 'hub connection error');
      else this.log.warn({ reason }, 'the hub broke the WebSocket protocol; reconnecting');
    });
    socket.on('close', (code, reasonBuffer) => {
      if (this.socket === socket) this.socket = null;
      if (this.stopped) return;
      const reason = reasonBuffer.toString('utf8');
      const lasted = opened && this.now() - openedAt >= HEALTHY_SESSION_MS;
      // A problem met again after a session that lasted is a new one, logged at error again.
      if (lasted) this.alertedFor = '';
      if (refused !== null) return this.waitForOperator(refused.kind, refused.detail, refused.status);
      const name = closeCodeName(code);
      if (name !== undefined && stopsAndAlerts(name)) {
        const kind = name === 'Unauthorized' && this.tokenExpired() ? 'token-expired' : STOP_KIND[name];
        return this.waitForOperator(kind, stopDetail(kind, code, reason), code);
      }
      const resync = closeRecovery(code) === Recovery.Resync;
      // A cut link opens and closes at once: back off as from a failed attempt, not
      // as from a fresh session, or the store would retry several times a second.
      const cut = code === CloseCode.LinkCut.code;
      this.refusedInARow = cut ? this.refusedInARow + 1 : 0;
      // Only a session that lasted resets the backoff: a hub that accepts and then
      // breaks the protocol (or closes at once) is retried as a failed attempt.
      if (lasted) this.attempt = 0;
      // A resync reconnects at once, but only when the link was not failing already:
      // a close for good comes back in the new session, which then backs off.
      // A node that cannot be reached or went away: the next attempt goes to another.
      const untriedLeft = !cut && this.nodes.closed(opened, code).tryAtOnce;
      const delay = cut
        ? backoffDelay(this.refusedInARow - 1, this.random)
        : (resync && this.attempt === 0) || untriedLeft
          ? 0
          : backoffDelay(this.attempt, this.random);
      if (!cut) this.attempt++;
      if (cut) this.log.warn({ retryInMs: delay }, "the hub cut this store's link: selling from local quota");
      else if (resync)
        this.log.warn({ code, reason, retryInMs: delay }, 'hub connection closed: reconnecting to resync');
      else this.log.info({ code, reason, retryInMs: delay, next: this.hubNode }, 'hub connection closed');
      const kind: ProblemKind = cut ? 'link-cut' : opened ? 'closed' : 'unreachable';
      const detail = cut
        ? "an operator cut this store's link: it sells from its local quota until the link is restored"
        : opened
          ? `the hub closed the session (${code}${reason === '' ? '' : `: ${reason}`}); ${resync ? 'reconnecting for a full catch-up' : 'reconnecting'}`
          : 'the hub cannot be reached; retrying with backoff';
      this.setProblem(kind, detail, opened || cut ? code : null, delay);
      this.timer = setTimeout(() => this.connect(), delay);
      this.timer.unref();
    });
  }

  /** The token to send, or null (and a long wait) when it is unreadable or has expired by its own `exp`. */
  private readToken(): string | null {
    let token: string;
    try {
      token = this.options.token().trim();
    } catch (error) {
      this.expiresAt = null;
      this.waitForOperator('token-unreadable', error instanceof Error ? error.message : String(error), null);
      return null;
    }
    this.sentToken = token;
    const read = readStoreTokenClaims(token);
    if (!read.ok) {
      this.expiresAt = null;
      this.waitForOperator(
        'token-unreadable',
        read.reason === 'legacy'
          ? 'the store token is an ss1 token without expiry, which the hub refuses: issue a new one (shelfsync token)'
          : 'the store token does not parse: issue a new one (shelfsync token)',
        null,
      );
      return null;
    }
    this.expiresAt = read.claims.exp * 1000;
    if (token !== this.warnedFor && this.expiresAt - this.now() < EXPIRY_WARNING_MS) {
      this.warnedFor = token;
      this.log.warn(
        { tokenExpiresAt: new Date(this.expiresAt).toISOString() },
        'the store token expires within a week: issue the next one (shelfsync token)',
      );
    }
    if (this.tokenExpired()) {
      this.waitForOperator(
        'token-expired',
        `the store token expired at ${new Date(this.expiresAt).toISOString()}: put a new one in place (shelfsync token)`,
        null,
      );
      return null;
    }
    return token;
  }

  private tokenExpired(): boolean {
    return this.expiresAt !== null && this.expiresAt <= this.now();
  }

  /**
   * Retrying will not help until a person acts (a new token, a fixed peer, one
   * process per store): try again only after `authRetryMs`, or at once when the
   * token file holds a different token.
   */
  private waitForOperator(kind: ProblemKind, detail: string, status: number | null): void {
    this.clearTimers();
    if (this.stopped) return;
    const delay = Math.floor(this.options.authRetryMs * (0.9 + this.random() * 0.2));
    this.setProblem(kind, detail, status, delay);
    // Once per problem at error level (an operator acts on it); every further attempt that meets it, at info.
    const fields = { problem: kind, status, retryInMs: delay, watchingTokenFile: this.options.tokenFromFile };
    if (kind === this.alertedFor) this.log.info(fields, `still not connected to the hub: ${detail}`);
    else this.log.error(fields, `not connected to the hub: ${detail}`);
    this.alertedFor = kind;
    this.timer = setTimeout(() => this.connect(), delay);
    this.timer.unref();
    if (!this.options.tokenFromFile) return;
    this.watcher = setInterval(() => {
      let next: string;
      try {
        next = this.options.token().trim();
      } catch {
        return;
      }
      if (next !== this.sentToken) {
        this.log.info('the token file changed: connecting with the new token');
        this.connect();
      }
    }, 1_000);
    this.watcher.unref();
  }

  private setProblem(kind: ProblemKind, detail: string, status: number | null, retryInMs: number): void {
    const since = this.currentProblem?.kind === kind ? this.currentProblem.since : new Date(this.now()).toISOString();
    this.currentProblem = {
      kind,
      detail,
      since,
      nextAttemptAt: new Date(this.now() + retryInMs).toISOString(),
      status,
    };
  }

  private clearTimers(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.watcher !== null) clearInterval(this.watcher);
    this.timer = null;
    this.watcher = null;
  }
}
