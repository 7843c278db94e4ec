import { TokenSet, problem, type Logger, type Metrics } from '@shelfsync/edge';
import { ErrorCode, type StoreTokenClaims } from '@shelfsync/protocol';
import type { StorageAdapter } from '@shelfsync/storage';
import type { HubSync } from '@shelfsync/sync';
import type { Context } from 'koa';
import type { HubConfig } from './config.js';
import { Credentials, type Refusal } from './credentials.js';
import { SessionAuth } from './session-auth.js';
import { MIN_SECRET_LENGTH } from './token.js';

/** The hub's authentication, in one place: store tokens at the upgrade and during sessions, and API tokens. */
export interface HubAuth {
  readonly credentials: Credentials;
  readonly sessions: SessionAuth;
  /** Reservation and admin calls need an API token (any of the set); compared in constant time. A 401 otherwise. */
  requireApiToken(ctx: Context): void;
  /**
   * The claims of a store's token, or the `WWW-Authenticate` challenge of the
   * 401 that refuses it (RFC 6750: the reason goes back to the token's holder,
   * so a store can say why it is disconnected). Counted by reason; the upgrade
   * route logs it, within its per-peer bound.
   */
  admitStore(
    token: string | null,
  ): { ok: true; claims: StoreTokenClaims } | { ok: false; challenge: string; reason: string };
  close(): void;
}

export async function openHubAuth(
  adapter: StorageAdapter,
  sync: HubSync,
  config: HubConfig,
  metrics: Metrics,
  log: Logger,
  /** Other hub nodes share the records: their key and revocation changes are read every this many ms. */
  followEveryMs: number | null = null,
): Promise<HubAuth> {
  const credentials = await Credentials.open(adapter, config.secret);
  const sessions = new SessionAuth(sync, credentials, log);
  const follow = followEveryMs === null ? undefined : followOtherNodes(credentials, sessions, followEveryMs, log);
  log.info(
    { keys: credentials.keys().map(({ kid, source, state, verifies }) => ({ kid, source, state, verifies })) },
    'store-token key set loaded',
  );
  if (!credentials.keys().some((key) => key.verifies)) {
    log.error(
      'no key of the set can verify a store token (the --secret-file key was retired?): every store is refused until one is added (POST /v1/admin/keys) or the hub starts with an active key',
    );
  }
  const refusals = metrics.counter(
    'shelfsync_store_auth_refused_total',
    'Store connections refused with 401 at the upgrade, by reason (missing, malformed, legacy, unknown-key, retired-key, bad-signature, expired, revoked)',
    ['reason'],
  );
  const apiTokens =
    config.apiTokenFile === undefined
      ? TokenSet.of(config.apiTokens)
      : TokenSet.fromFile(config.apiTokenFile, 'API token', MIN_SECRET_LENGTH, (error, count) => {
          if (error === null) log.info({ tokens: count }, 'API tokens reloaded from their file');
          else log.error({ err: error.message, tokens: count }, 'API token file unusable: the previous tokens stay');
        });
  return {
    credentials,
    sessions,
    requireApiToken(ctx) {
      const header = ctx.get('authorization');
      const given = bearerToken(header) ?? '';
      if (!apiTokens.matches(given)) {
        ctx.set('WWW-Authenticate', 'Bearer realm="shelfsync"');
        throw problem(ErrorCode.Unauthorized, 'this call needs the API token: Authorization: Bearer <token>');
      }
    },
    admitStore(token) {
      const verdict = token === null ? ({ ok: false, reason: 'missing' } as const) : credentials.verify(token);
      if (verdict.ok) return verdict;
      const reason: Refusal | 'missing' = verdict.reason;
      refusals.inc({ reason });
      return {
        ok: false,
        reason,
        challenge: `Bearer realm="shelfsync", error="invalid_token", error_description="${reason}"`,
      };
    },
    close() {
      clearInterval(follow);
      sessions.close();
    },
  };
}

/**
 * A key retired or a store revoked on another node takes effect here within
 * `everyMs`: the credentials are read again and the sessions they no longer
 * admit are closed (4401).
 */
function followOtherNodes(
  credentials: Credentials,
  sessions: SessionAuth,
  everyMs: number,
  log: Logger,
): ReturnType<typeof setInterval> {
  let reading = false;
  const timer = setInterval(() => {
    if (reading) return;
    reading = true;
    credentials
      .reload()
      .then((changed) => {
        if (!changed) return;
        const closed = sessions.recheck();
        log.info({ closed }, 'store credentials changed on another hub node');
      })
      .catch((error: unknown) => log.warn({ err: error }, 'reading the store credentials again failed'))
      .finally(() => {
        reading = false;
      });
  }, everyMs);
  timer.unref();
  return timer;
}

/** The token of an `Authorization: Bearer <token>` header, or null for any other header or none. */
export function bearerToken(header: string | undefined): string | null {
  return header?.startsWith('Bearer ') === true ? header.slice('Bearer '.length).trim() : null;
}
