import Router from '@koa/router';
import {
  AddressSlots,
  ConnectionErrors,
  Metrics,
  PeerLogLimiter,
  closeServer,
  cors,
  rateLimit,
  staticFiles,
  createLogger,
  listen,
  parseOrThrow,
  problem,
  createHttpServer,
  forwardedClients,
  trustedProxies,
  type Logger,
  type RequestState,
} from '@shelfsync/edge';
import { CloseCode, ErrorCode, SkuSchema, type StoreLinksSchema } from '@shelfsync/protocol';
import { ChainActivity, StockBodies, StockEvents, StorefrontReads } from '@shelfsync/storefront';
import { HubSync, type HubDocumentStore } from '@shelfsync/sync';
import type { Context } from 'koa';
import type { z } from 'zod';
import { randomBytes } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { buildHint, distDir } from '@shelfsync/dashboard/dist-dir';
import { adminRoutes, credentialRoutes } from './admin.js';
import type { HubConfig } from './config.js';
import { openHubAuth } from './hub-auth.js';
import { openHubRecords } from './hub-records.js';
import { limitUnauthenticated, routeUpgrades } from './hub-wire.js';
import { startEscrow } from './hub-escrow.js';
import { clusterProblems, clusterReady, clusterRoutes, reportStoreSessions, watchCluster } from './hub-cluster.js';
import { hubMetrics } from './hub-metrics.js';
import { storefrontRoutes, summaryRoutes } from './storefront.js';
import { YjsReadEndpoint } from './yjs-endpoint.js';
import { openHubReservations } from './hub-reservations.js';
import { openStoreSessionClaims } from './hub-store-sessions.js';
import { openHubActivity } from './hub-activity.js';
import { reservationRoutes } from './reservation-routes.js';

/** A running hub. */
export interface RunningHub {
  readonly port: number;
  readonly url: string;
  readonly sync: HubSync;
  readonly storage: HubDocumentStore;
  close(): Promise<void>;
}

/**
 * Starts a hub: HTTP (Koa) and the stores' WebSocket on one port. Stores
 * authenticate before the upgrade completes, so no frame of theirs is ever read
 * unauthenticated (and none is dropped while authentication runs).
 */
export async function startHub(config: HubConfig, log: Logger = createLogger('hub')): Promise<RunningHub> {
  const metrics = new Metrics('hub');
  const trusted = trustedProxies(config.trustedProxies);
  // What any one peer (an address, a store) can make the hub log is bounded.
  const peerLog = new PeerLogLimiter(log);
  const errors = new ConnectionErrors(log, metrics, peerLog);
  const records = await openHubRecords(config, metrics, log);
  const { adapter, documents: storage } = records;
  // Idle documents leave memory once stored, so the hub's memory follows the SKUs in use, not every SKU ever touched.
  const evictTimer = setInterval(() => {
    const evicted = storage.evictIdle();
    if (evicted > 0) log.debug({ evicted, ...storage.residencyStats() }, 'idle documents evicted');
  }, 1_000);
  evictTimer.unref();
  const observe = hubMetrics(metrics, log, peerLog);
  const activity = new ChainActivity(storage, log);
  const sync = new HubSync(storage, {
    maxDeficit: config.overrideCap,
    onEvent: (event) => {
      activity.onSyncEvent(event);
      observe.syncEvent(event);
    },
    onHubWrite: (write) => observe.hubWrite(write),
  });
  observe.watchSync(sync, storage);
  watchCluster(metrics, records.cluster);
  // Each heartbeat tells the other nodes how many stores this one serves.
  reportStoreSessions(records.cluster, sync);
  // Changes other hub nodes commit reach this node's stores as its own do.
  storage.onForeignChange?.((sku, update, change, doc) => sync.relay(sku, update, change, doc));
  const { allocator, stop: stopEscrow } = startEscrow(config, storage, sync, observe, log, records.cluster);

  const hubReservations = await openHubReservations(
    config,
    { adapter, sync, allocator, cluster: records.cluster, activity, observe },
    log,
  );
  // One cache of serialized stock bodies serves the reads and every event stream.
  const stockBodies = new StockBodies(storage);
  // A boot tag fresh each start: no ETag matches across a restart (StockTags says why). On PostgreSQL a change
  // is numbered in its committing transaction, never reused: every node tags a version alike.
  const bootTag = records.cluster === null ? randomBytes(3).toString('hex') : '';
  const storefront = new StorefrontReads(storage, stockBodies, { bootTag });
  const stockEvents = new StockEvents(storage, stockBodies, { log });
  // Other nodes add and retire keys and revoke stores in the shared records: followed within a second.
  const auth = await openHubAuth(adapter, sync, config, metrics, log, records.cluster === null ? null : 1_000);
  const requireApiToken = (ctx: Context): void => auth.requireApiToken(ctx);
  const storeSessions = await openStoreSessionClaims(config, records.cluster, sync, log);
  const chainActivity = await openHubActivity(config, records.cluster, activity, log);

  const router = new Router<RequestState>();
  reservationRoutes(router, hubReservations.desk, requireApiToken, (outcome) => {
    observe.reservation(outcome);
    activity.reservation(outcome);
  });
  router.get('/v1/skus/:sku/ledger', async (ctx) => {
    requireApiToken(ctx);
    ctx.body = await storefront.ledger(parseOrThrow(SkuSchema, ctx.params.sku, 'path.sku'));
  });
  storefrontRoutes(router, {
    reads: storefront,
    events: stockEvents,
    eventStreams: new AddressSlots(
      { name: 'event_streams', perAddress: config.maxEventStreamsPerAddress, total: config.maxEventStreams },
      metrics,
    ),
  });
  adminRoutes(router, sync, requireApiToken, log, config.faultProxies);
  credentialRoutes(router, auth.credentials, auth.sessions, requireApiToken, log);
  summaryRoutes(router, chainActivity);
  // The hub listens only once its storage is loaded: serving means ready.
  router.get('/readyz', (ctx) => {
    if (!clusterReady(records.cluster))
      throw problem(ErrorCode.WriteConflict, 'this hub node holds no shard lease: its database does not answer');
    ctx.body = { status: 'ready' };
  });
  clusterRoutes(router, records.cluster, sync);
  router.get('/v1/stores', (ctx) => {
    ctx.body = {
      stores: sync.storeLinks().map((link) => ({ ...link, lastSeen: new Date(link.lastSeen).toISOString() })),
    } satisfies z.infer<typeof StoreLinksSchema>;
  });
  const server = createHttpServer(
    router,
    (error, ctx) => peerLog.error(ctx.request.ip, { err: error, requestId: ctx.state.requestId }, 'request failed'),
    metrics,
    [
      forwardedClients(trusted),
      staticFiles({ root: distDir, index: 'dashboard.html', missingHint: buildHint }),
      cors(config.corsOrigins),
      // After a failed write the documents in memory may hold what the disk lacks:
      // nothing is served from them until a restart recovers what is on disk. The
      // dashboard's files and CORS answers still go out, so the page can say so.
      async (ctx, next) => {
        if (storage.failed !== null && ctx.path !== '/healthz' && ctx.path !== '/metrics') {
          throw problem(
            ErrorCode.StorageUnavailable,
            'the hub could not store a write (in its data directory or its database) and serves nothing until it is restarted',
          );
        }
        await next();
      },
      clusterProblems(records.cluster),
      rateLimit({
        perSecond: config.rateLimit,
        burst: config.rateLimitBurst,
        // The public storefront reads; stores, reservations and admin calls authenticate instead.
        applies: (path, method) =>
          method === 'GET' &&
          !path.endsWith('/ledger') &&
          (path.startsWith('/v1/skus') ||
            path.startsWith('/v1/stores') ||
            path === '/v1/events' ||
            path === '/v1/summary'),
      }),
    ],
    errors,
  );
  const wss = new WebSocketServer({ noServer: true, maxPayload: 2 * 1024 * 1024 });
  const readers = new YjsReadEndpoint(
    (sku) => storage.pin(sku),
    peerLog,
    storage,
    new AddressSlots(
      { name: 'yjs_readers', perAddress: config.maxYjsReadersPerAddress, total: config.maxYjsReaders },
      metrics,
    ),
  );
  storage.onFailure((error) => {
    log.fatal({ err: error }, 'hub storage failed: no more writes, reads or syncing until restart');
    // The sync halts itself (it listens too); the other ways out of the documents close here.
    readers.halt();
    stockEvents.closeAll();
  });
  routeUpgrades(server, {
    wss,
    readers,
    errors,
    trusted,
    verify: (token) => auth.admitStore(token),
    connect: (claims, transport, ws) => {
      // A cluster node without a lease acknowledges nothing: the store tries its next node.
      if (storeSessions?.admits() === false) {
        transport.close(CloseCode.TryAgainLater.code, 'this hub node holds no shard lease: try another node');
        return;
      }
      const session = sync.connect(claims.sub, transport);
      if (session === null) return;
      // The session ends at the token's expiry, or at once when it is revoked (4401).
      ws.once('close', auth.sessions.watch(session, claims));
      // On a cluster, a session of this store on another node ends (4409).
      const ended = storeSessions?.admitted(claims.sub);
      if (ended !== undefined) ws.once('close', ended);
    },
    authenticated: limitUnauthenticated(
      server,
      new AddressSlots({ name: 'unauthenticated', perAddress: config.maxConnectionsPerAddress }, metrics),
      trusted,
    ),
  });

  const port = await listen(server, config.port, config.host);
  const url = `http://${config.host}:${port}`;
  // A node on port 0 learns its address only now: the cluster's view names it from here on.
  await records.cluster?.leases
    .advertise(url)
    .catch((error: unknown) => log.warn({ err: error }, 'recording the address of this node failed'));
  log.info({ url, epoch: storage.epoch, skus: storage.allSkus().length }, 'hub listening');
  return {
    port,
    url,
    sync,
    storage,
    async close() {
      stockEvents.closeAll();
      hubReservations.stop();
      auth.close();
      await storeSessions?.close();
      await chainActivity.close();
      clearInterval(evictTimer);
      peerLog.stop();
      stopEscrow();
      sync.close();
      readers.close();
      for (const client of wss.clients) client.terminate();
      wss.close();
      await closeServer(server);
      await records.close();
      log.info('hub stopped');
    },
  };
}
