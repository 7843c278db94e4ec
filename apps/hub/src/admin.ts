import type Router from '@koa/router';
import { parseOrThrow, problem, readJson, type Logger, type RequestState } from '@shelfsync/edge';
import {
  AddKeyRequestSchema,
  ErrorCode,
  FaultProxyStatusSchema,
  KeyIdSchema,
  type KeyInfoSchema,
  type KeyListSchema,
  type StoreRevocationSchema,
  FaultRequestSchema,
  LinkStateRequestSchema,
  StoreIdSchema,
  type FaultRequest,
  type LinkStateSchema,
  type StoreId,
} from '@shelfsync/protocol';
import type { HubSync } from '@shelfsync/sync';
import type { Context } from 'koa';
import type { z } from 'zod';
import { LastActiveKeyError, type Credentials, type KeyInfo } from './credentials.js';
import type { SessionAuth } from './session-auth.js';

/**
 * Operator calls on the hub, every one behind the API token. For testers and
 * drills: cut a store's link as a partition would (the store sells from its local
 * quota and the dashboard shows it offline), then restore it.
 */
export function adminRoutes(
  router: Router<RequestState>,
  sync: HubSync,
  requireApiToken: (ctx: Context) => void,
  log: Logger,
  faultProxies: Readonly<Record<string, string>> = {},
): void {
  /** The control address of the fault proxy in front of a store's link, or a 404 naming the flag. */
  const proxyOf = (storeId: StoreId): string => {
    const url = Object.hasOwn(faultProxies, storeId) ? faultProxies[storeId] : undefined;
    if (url === undefined) {
      throw problem(
        ErrorCode.NotFound,
        `no fault proxy is registered for ${storeId} (--fault-proxies ${storeId}=http://127.0.0.1:PORT)`,
      );
    }
    return url;
  };
  /** One call to a proxy's control API; its answer checked like any input. */
  const control = async (
    storeId: StoreId,
    path: string,
    body?: unknown,
  ): Promise<z.infer<typeof FaultProxyStatusSchema>> => {
    const base = proxyOf(storeId);
    let answer: unknown;
    try {
      const res = await fetch(`${base}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(5_000),
        redirect: 'error',
      });
      if (!res.ok) throw new Error(`status ${res.status}`);
      answer = await res.json();
    } catch (error) {
      log.warn({ storeId, proxy: base, err: error }, 'fault proxy did not answer');
      throw problem(ErrorCode.FaultProxyUnavailable, `the fault proxy for ${storeId} at ${base} did not answer`);
    }
    const status = FaultProxyStatusSchema.safeParse({ storeId, ...(answer as object) });
    if (!status.success)
      throw problem(ErrorCode.FaultProxyUnavailable, `the fault proxy for ${storeId} answered something else`);
    return status.data;
  };
  const faultPath = (fault: FaultRequest): { path: string; body: unknown } => {
    switch (fault.action) {
      case 'partition':
      case 'hold':
      case 'restore':
        return { path: `/${fault.action}`, body: {} };
      case 'degrade': {
        const { action: _, ...limits } = fault;
        return { path: '/degrade', body: limits };
      }
      case 'flap':
        return { path: '/flap', body: { upMs: fault.upMs, downMs: fault.downMs } };
    }
  };

  router.get('/v1/admin/stores/:storeId/faults', async (ctx) => {
    requireApiToken(ctx);
    ctx.body = await control(parseOrThrow(StoreIdSchema, ctx.params.storeId, 'path.storeId'), '/status');
  });
  router.post('/v1/admin/stores/:storeId/faults', async (ctx) => {
    requireApiToken(ctx);
    const storeId = parseOrThrow(StoreIdSchema, ctx.params.storeId, 'path.storeId');
    const fault = await readJson(ctx, FaultRequestSchema);
    proxyOf(storeId);
    const { path, body } = faultPath(fault);
    ctx.body = await control(storeId, path, body);
    log.warn({ storeId, fault, requestId: ctx.state.requestId }, 'fault injected on a store link by an operator');
  });

  router.post('/v1/admin/stores/:storeId/link', async (ctx) => {
    // The token first: a caller without it learns nothing about stores or bodies.
    requireApiToken(ctx);
    const storeId = parseOrThrow(StoreIdSchema, ctx.params.storeId, 'path.storeId');
    const { state } = await readJson(ctx, LinkStateRequestSchema);
    const known = state === 'cut' ? sync.cutLink(storeId) : sync.restoreLink(storeId);
    if (!known) throw problem(ErrorCode.NotFound, `no store ${storeId} has connected to this hub since it started`);
    log.warn({ storeId, state, requestId: ctx.state.requestId }, `store link ${state} by an operator`);
    ctx.body = {
      storeId,
      state,
      connected: sync.storeLinks().some((link) => link.storeId === storeId && link.connected),
    } satisfies z.infer<typeof LinkStateSchema>;
  });
}

/**
 * Store credentials, behind the API token: the key set (list, add, retire) and
 * per-store revocation. Every change is durable before it is answered, and
 * closes the live sessions it invalidates with 4401 at once.
 */
export function credentialRoutes(
  router: Router<RequestState>,
  credentials: Credentials,
  sessions: SessionAuth,
  requireApiToken: (ctx: Context) => void,
  log: Logger,
): void {
  const wire = (key: KeyInfo): z.infer<typeof KeyInfoSchema> => ({
    ...key,
    addedAt: new Date(key.addedAt).toISOString(),
    retiredAt: key.retiredAt === null ? null : new Date(key.retiredAt).toISOString(),
  });
  router.get('/v1/admin/keys', (ctx) => {
    requireApiToken(ctx);
    ctx.body = { keys: credentials.keys().map(wire) } satisfies z.infer<typeof KeyListSchema>;
  });
  router.post('/v1/admin/keys', async (ctx) => {
    requireApiToken(ctx);
    const { secret } = await readJson(ctx, AddKeyRequestSchema);
    const { key, created } = await credentials.addKey(secret);
    if (created) log.warn({ kid: key.kid, requestId: ctx.state.requestId }, 'store-token key added by an operator');
    ctx.status = created ? 201 : 200;
    ctx.body = wire(key);
  });
  router.post('/v1/admin/keys/:kid/retire', async (ctx) => {
    requireApiToken(ctx);
    const kid = parseOrThrow(KeyIdSchema, ctx.params.kid, 'path.kid');
    let key: KeyInfo | undefined;
    try {
      key = await credentials.retireKey(kid);
    } catch (error) {
      if (error instanceof LastActiveKeyError) throw problem(ErrorCode.ValidationFailed, error.message);
      throw error;
    }
    if (key === undefined) throw problem(ErrorCode.NotFound, `no key ${kid} in the key set`);
    const closed = sessions.retired(kid);
    log.warn({ kid, closedSessions: closed, requestId: ctx.state.requestId }, 'store-token key retired by an operator');
    ctx.body = wire(key);
  });
  router.post('/v1/admin/stores/:storeId/revoke', async (ctx) => {
    requireApiToken(ctx);
    const storeId = parseOrThrow(StoreIdSchema, ctx.params.storeId, 'path.storeId');
    const notBefore = await credentials.revokeStore(storeId);
    const closedSessions = sessions.revoked(storeId);
    log.warn({ storeId, closedSessions, requestId: ctx.state.requestId }, "store's tokens revoked by an operator");
    ctx.body = {
      storeId,
      notBefore: new Date(notBefore).toISOString(),
      closedSessions,
    } satisfies z.infer<typeof StoreRevocationSchema>;
  });
}
