import type { Logger } from '@shelfsync/edge';
import { CloseCode, type KeyId, type StoreId, type StoreTokenClaims } from '@shelfsync/protocol';
import type { HubSession, HubSync } from '@shelfsync/sync';
import type { Credentials } from './credentials.js';

/** setTimeout's longest delay; a later expiry is re-armed from there. */
const MAX_TIMER_MS = 2_147_483_647;

interface Watched {
  readonly claims: StoreTokenClaims;
  readonly session: HubSession;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Holds each live store session to the token it opened with: closed with
 * Unauthorized (4401) at the token's `exp`, and at once when the store is
 * revoked or the token's key retired. A refused token never got a session: the
 * upgrade answered 401.
 */
export class SessionAuth {
  private readonly watched = new Map<HubSession, Watched>();

  constructor(
    private readonly sync: HubSync,
    private readonly credentials: Credentials,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts holding `session` to `claims`; `closed` is called by the caller when its socket closes. */
  watch(session: HubSession, claims: StoreTokenClaims): () => void {
    const watched: Watched = { claims, session, timer: this.arm(session, claims) };
    this.watched.set(session, watched);
    return () => {
      clearTimeout(watched.timer);
      this.watched.delete(session);
    };
  }

  /** Closes the live sessions of `storeId` opened with a token issued before its revocation; how many closed. */
  revoked(storeId: StoreId): number {
    return this.closeWhere((claims) => claims.sub === storeId, 'token revoked');
  }

  /** Closes the live sessions whose token `kid` signed; how many closed. */
  retired(kid: KeyId): number {
    return this.closeWhere((claims) => claims.kid === kid, 'signing key retired');
  }

  /** Closes every live session whose token no longer holds (the credentials changed on another hub node); how many closed. */
  recheck(): number {
    return this.closeWhere(() => true, 'credentials changed');
  }

  close(): void {
    for (const watched of this.watched.values()) clearTimeout(watched.timer);
    this.watched.clear();
  }

  private closeWhere(match: (claims: StoreTokenClaims) => boolean, reason: string): number {
    let closed = 0;
    for (const { claims, session } of [...this.watched.values()]) {
      if (!match(claims) || this.credentials.stillValid(claims)) continue;
      if (this.end(session, claims, reason)) closed++;
    }
    return closed;
  }

  private arm(session: HubSession, claims: StoreTokenClaims): ReturnType<typeof setTimeout> {
    const left = claims.exp * 1000 - this.now();
    const timer = setTimeout(
      () => {
        const watched = this.watched.get(session);
        if (watched === undefined) return;
        if (claims.exp * 1000 > this.now()) watched.timer = this.arm(session, claims);
        else this.end(session, claims, 'token expired');
      },
      Math.max(0, Math.min(left, MAX_TIMER_MS)),
    );
    timer.unref();
    return timer;
  }

  private end(session: HubSession, claims: StoreTokenClaims, reason: string): boolean {
    const watched = this.watched.get(session);
    if (watched !== undefined) clearTimeout(watched.timer);
    this.watched.delete(session);
    const closed = this.sync.closeStore(claims.sub, { code: CloseCode.Unauthorized.code, reason }, session);
    if (closed) this.log.warn({ storeId: claims.sub, kid: claims.kid, reason }, 'store session closed: 4401');
    return closed;
  }
}
