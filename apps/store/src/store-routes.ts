import Router from '@koa/router';
import { ledgerSummary } from '@shelfsync/core';
import { parseOrThrow, problem, readJson, type IdempotencyKeys, type RequestState } from '@shelfsync/edge';
import { posRequests, type PointOfSale, type PosRequest, type ReplicaHealth } from '@shelfsync/point-of-sale';
import {
  AdjustmentRequestSchema,
  ErrorCode,
  IdempotencyKeySchema,
  SaleRequestSchema,
  SkuSchema,
  StockMovementRequestSchema,
  TransferInRequestSchema,
  TransferOutRequestSchema,
  type SkuLedger,
  type StoreSkuSchema,
  type StoreStatusSchema,
} from '@shelfsync/protocol';
import type { StoreStorage, StoreSync } from '@shelfsync/sync';
import type { Context } from 'koa';
import type { z } from 'zod';
import type { StoreConfig } from './config.js';
import type { HubLink } from './hub-link.js';

export interface StoreRouteServices {
  readonly config: StoreConfig;
  readonly pos: PointOfSale;
  readonly health: ReplicaHealth;
  readonly storage: StoreStorage;
  readonly sync: StoreSync;
  readonly link: HubLink;
  readonly idempotency: IdempotencyKeys;
  /** Throws unless the request carries the manager's credentials. */
  readonly requireManager: (ctx: Context) => void;
}

/** The store's REST API: each route parses its input, calls a service, and maps the answer back to HTTP. */
export function storeRoutes(services: StoreRouteServices): Router<RequestState> {
  const { config, pos, health, storage, sync, link, idempotency } = services;
  const router = new Router<RequestState>();
  const requests = posRequests(config.id);

  /** A POS write: idempotent under its key, refused while the replica cannot take writes. */
  const write = (path: string, read: (ctx: Context) => Promise<PosRequest>) =>
    router.post(path, async (ctx) => {
      const header = ctx.get('idempotency-key');
      const key = header === '' ? undefined : parseOrThrow(IdempotencyKeySchema, header, 'header.Idempotency-Key');
      health.assertHealthy();
      const input = await read(ctx);
      await health.assertReady();
      health.assertHealthy();
      const answer = await idempotency.run(key, { method: 'POST', path, body: input }, async (recordWrites) => {
        const done = await pos.perform(input, { recordWrites, instance: path });
        if (done.topUpMs !== undefined) ctx.set('Server-Timing', `topup;dur=${done.topUpMs.toFixed(1)}`);
        return done;
      });
      ctx.status = answer.status;
      if (answer.status >= 400) ctx.type = 'application/problem+json';
      if (answer.replayed) ctx.set('Idempotent-Replayed', 'true');
      ctx.body = answer.body;
    });

  write('/v1/receipts', async (ctx) => requests.receipt(await readJson(ctx, StockMovementRequestSchema)));
  write('/v1/sales', async (ctx) => {
    const body = await readJson(ctx, SaleRequestSchema);
    if (body.override === true) services.requireManager(ctx);
    return requests.sale(body);
  });
  write('/v1/returns', async (ctx) => requests.return(await readJson(ctx, StockMovementRequestSchema)));
  write('/v1/adjustments', async (ctx) => requests.count(await readJson(ctx, AdjustmentRequestSchema)));
  write('/v1/transfers', async (ctx) => requests.shipOut(await readJson(ctx, TransferOutRequestSchema)));
  write('/v1/transfers/receive', async (ctx) => requests.receiveTransfer(await readJson(ctx, TransferInRequestSchema)));

  /** The SKU named in the path, which this store must hold. */
  const heldSku = (ctx: { params: Record<string, string | undefined> }) => {
    const sku = parseOrThrow(SkuSchema, ctx.params.sku, 'path.sku');
    health.assertHealthy();
    if (!storage.has(sku)) throw problem(ErrorCode.NotFound, `this store holds nothing for ${sku}`);
    return sku;
  };
  router.get('/v1/skus/:sku', async (ctx) => {
    const sku = parseOrThrow(SkuSchema, ctx.params.sku, 'path.sku');
    health.assertHealthy();
    // Holding only its share, the store counts the rest of the chain from the hub's summary: it follows what it shows,
    // a SKU it does not carry too (the chain may hold it elsewhere).
    sync.follow([sku]);
    const elsewhere = sync.chainElsewhere(sku);
    const held = storage.has(sku);
    if (!held && (!sync.holdsShare || elsewhere === undefined)) {
      throw problem(
        ErrorCode.NotFound,
        sync.holdsShare
          ? `this store holds nothing for ${sku}; its units elsewhere are asked of the hub, ask again shortly`
          : `this store holds nothing for ${sku}`,
      );
    }
    const figures = held
      ? pos.figures(await storage.open(sku), sku)
      : { rights: 0, onShelf: 0, available: elsewhere?.units ?? 0 };
    const status = sync.status();
    ctx.body = {
      sku,
      storeId: config.id,
      ...figures,
      ...(sync.holdsShare
        ? { availableAsOf: elsewhere === undefined ? null : new Date(elsewhere.at).toISOString() }
        : {}),
      hubConnected: status.connected,
      lastSyncedAt: status.lastSyncedAt === null ? null : new Date(status.lastSyncedAt).toISOString(),
      pendingSync: held && storage.isDirty(sku),
    } satisfies z.infer<typeof StoreSkuSchema>;
  });
  router.get('/v1/skus/:sku/ledger', async (ctx) => {
    const sku = heldSku(ctx);
    const share = sync.holdsShare ? { share: config.id } : {};
    ctx.body = { sku, ...ledgerSummary(await storage.open(sku)), ...share } satisfies SkuLedger;
  });

  router.get('/v1/status', (ctx) => {
    const status = sync.status();
    ctx.body = {
      storeId: config.id,
      hub: {
        url: config.hubUrl,
        node: link.hubNode,
        connected: status.connected,
        caughtUp: status.caughtUp,
        lastSyncedAt: status.lastSyncedAt === null ? null : new Date(status.lastSyncedAt).toISOString(),
        cursor: status.cursor,
        problem: status.connected ? null : link.problem,
        tokenExpiresAt: link.tokenExpiresAt === null ? null : new Date(link.tokenExpiresAt).toISOString(),
      },
      ready: health.ready,
      firstSyncDone: storage.firstSyncDone,
      storage: health.failure === null ? 'ok' : 'failed',
      skus: storage.skus().length,
      pendingSync: storage.dirtyCount(),
      rejected: [...status.rejected].map(([sku, error]) => ({ sku, ...error })),
    } satisfies z.infer<typeof StoreStatusSchema>;
  });

  // Ready: storage loaded and healthy, and (for a fresh replica) the first sync done.
  router.get('/readyz', (ctx) => {
    health.assertHealthy();
    if (!storage.firstSyncDone) {
      throw problem(ErrorCode.ReplicaNotReady, 'waiting for the first sync with the hub before taking writes');
    }
    ctx.body = { status: 'ready' };
  });
  return router;
}
