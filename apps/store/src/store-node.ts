import {
  closeServer,
  createLogger,
  listen,
  createHttpServer,
  ConnectionErrors,
  IdempotencyKeys,
  Metrics,
  staticFiles,
  type Logger,
} from '@shelfsync/edge';
import { PointOfSale, ReplicaHealth } from '@shelfsync/point-of-sale';
import { Recovery, recoveryByErrorCode } from '@shelfsync/protocol';
import { SqlJsStorageAdapter } from '@shelfsync/storage-sqljs';
import { StoreStorage, StoreSync, type StoreSyncEvent } from '@shelfsync/sync';
import { join } from 'node:path';
import { buildHint, distDir } from '@shelfsync/dashboard/dist-dir';
import { checkStoreConfig, type StoreConfig } from './config.js';
import { HubLink } from './hub-link.js';
import { managerCheck, storeTokenReader } from './credentials.js';
import { pointOfSaleMetrics } from './store-metrics.js';
import { storeRoutes } from './store-routes.js';

/** A running store node. */
export interface RunningStore {
  readonly port: number;
  readonly url: string;
  readonly sync: StoreSync;
  readonly storage: StoreStorage;
  /** Drops the hub connection now; it reconnects by itself (tests, demos). */
  dropHubLink(): void;
  close(): Promise<void>;
}

/**
 * Starts a store node: the local POS API, the SKU documents on the embedded
 * sql.js storage, and the link to the hub. Sales only need local rights, so the
 * POS keeps working with the hub unreachable. This wires real I/O to the
 * services; the point of sale itself is `PointOfSale`.
 */
export async function startStore(
  config: StoreConfig,
  log: Logger = createLogger('store', { storeId: config.id }),
): Promise<RunningStore> {
  checkStoreConfig(config);
  const metrics = new Metrics('store', { store: config.id });
  const syncLag = metrics.histogram(
    'shelfsync_sync_lag_seconds',
    'Store to hub: from sending a local change to the hub acknowledging it durable',
  );
  const adapter = await SqlJsStorageAdapter.open({
    path: join(config.dataDir, 'store.sqlite'),
    onFsync: metrics.fsyncObserver(),
  });
  log.info({ ...adapter.recovery, file: join(config.dataDir, 'store.sqlite') }, 'storage opened');
  const storage = await StoreStorage.open(adapter);
  if (!storage.firstSyncDone) log.info({ clientId: storage.clientId }, 'fresh replica: writes wait for the first sync');
  const health = new ReplicaHealth(storage, {
    firstSyncWaitMs: config.firstSyncWaitMs,
    hubUrl: config.hubUrl,
    onFailed: (reason, error) => {
      sync.halt(`local storage failed: ${reason}`);
      log.fatal({ err: error }, 'local storage failed: no more writes or syncing until restart');
    },
    onReady: () => log.info('first sync done: this replica takes writes'),
  });
  const sync: StoreSync = new StoreSync(config.id, storage, {
    onAcked: (seconds) => syncLag.observe(seconds),
    onRelease: (sku, target, hub) => {
      pos.release(sku, target, hub).catch((error: unknown) => log.warn({ err: error, sku }, 'release failed'));
    },
    onEvent: (event) => {
      logSyncEvent(log, event);
      if (event.type === 'caught-up') health.caughtUp();
    },
  });
  const pos = new PointOfSale({
    storeId: config.id,
    storage,
    sync,
    health,
    topUpWaitMs: config.topUpWaitMs,
    overrideCap: config.overrideCap,
    observer: pointOfSaleMetrics(metrics, log, { storage, sync }),
  });
  const idempotency = new IdempotencyKeys(adapter);
  const pruneTimer = pruneIdempotencyAnswers(idempotency, config.idempotencyHours * 3_600_000, log);
  const link = new HubLink(
    {
      hubUrl: config.hubUrl,
      token: storeTokenReader(config),
      tokenFromFile: config.tokenFile !== undefined,
      authRetryMs: config.authRetryMs,
    },
    sync,
    log,
  );
  const router = storeRoutes({
    config,
    pos,
    health,
    storage,
    sync,
    link,
    idempotency,
    requireManager: managerCheck(config, log),
  });

  // What the wire refuses is logged with this store's bindings, within a per-peer bound.
  const wireErrors = new ConnectionErrors(log, metrics);
  const server = createHttpServer(
    router,
    (error, ctx) =>
      wireErrors.limiter.error(ctx.request.ip, { err: error, requestId: ctx.state.requestId }, 'request failed'),
    metrics,
    // The store console: it talks only to this node, so it works with the hub down.
    [staticFiles({ root: distDir, index: 'console.html', missingHint: buildHint })],
    wireErrors,
  );
  const port = await listen(server, config.port, config.host);
  const url = `http://${config.host}:${port}`;
  link.start();
  log.info({ url, hub: config.hubUrl, skus: storage.skus().length }, 'store listening');
  return {
    port,
    url,
    sync,
    storage,
    dropHubLink: () => link.drop(),
    async close() {
      clearInterval(pruneTimer);
      link.stop();
      await closeServer(server);
      wireErrors.limiter.stop();
      // Cleared dirty marks wait for a write to carry them; stop with them stored.
      await storage.flushCleanMarks().catch((error: unknown) => log.warn({ err: error }, 'dirty marks not cleared'));
      await adapter.close();
      log.info('store stopped');
    },
  };
}

/** Forgets idempotency answers past their retention now and every quarter of it (at most hourly). */
function pruneIdempotencyAnswers(
  idempotency: IdempotencyKeys,
  retentionMs: number,
  log: Logger,
): ReturnType<typeof setInterval> {
  const prune = (): void => {
    idempotency.prune(retentionMs).then(
      (pruned) => {
        if (pruned > 0) log.info({ pruned }, 'old idempotency answers forgotten');
      },
      (error: unknown) => log.warn({ err: error }, 'pruning idempotency answers failed'),
    );
  };
  prune();
  const timer = setInterval(prune, Math.min(retentionMs / 4, 3_600_000));
  timer.unref();
  return timer;
}

function logSyncEvent(log: Logger, event: StoreSyncEvent): void {
  if (event.type === 'halted') log.error(event, event.type);
  // A refusal no retry or resync heals needs a person: at error, once per SKU and code.
  else if (
    event.type === 'rejected' &&
    !event.repeated &&
    recoveryByErrorCode[event.error.code] === Recovery.StopAndAlert
  )
    log.error(event, event.type);
  else if (event.type === 'rejected' || event.type === 'protocol-error') log.warn(event, event.type);
  else log.info(event, event.type);
}
