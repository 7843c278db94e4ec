import type Router from '@koa/router';
import { parseOrThrow, problem, readJson, type Logger, type RequestState } from '@shelfsync/edge';
import { ErrorCode, LinkStateRequestSchema, StoreIdSchema, type LinkStateSchema } from '@shelfsync/protocol';
import type { HubSync } from '@shelfsync/sync';
import type { Context } from 'koa';
import type { z } from 'zod';

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
): void {
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
