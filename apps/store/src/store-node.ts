import Router from '@koa/router';
import { applyOperation, computeStock, deficitAllowance, ledgerSummary, type Operation } from '@shelfsync/core';
import {
  closeServer,
  createLogger,
  listen,
  parseOrThrow,
  problem,
  createHttpServer,
  ConnectionErrors,
  IdempotencyKeys,
  Metrics,
  readJson,
  staticFiles,
  type Logger,
  type RequestState,
} from '@shelfsync/edge';
import {
  AdjustmentRequestSchema,
  ErrorCode,
  IdempotencyKeySchema,
  SkuSchema,
  SaleRequestSchema,
  StockMovementRequestSchema,
  TransferInRequestSchema,
  TransferOutRequestSchema,
  type StoreSkuSchema,
  type StoreStatusSchema,
  storeAccount,
  httpStatusByCode,
  storeWriter,
  toProblem,
  type OperationResponse,
  type Sku,
  type SkuLedger,
} from '@shelfsync/protocol';
import { StorageWriteError, type StorageWrite } from '@shelfsync/storage';
import { SqlJsStorageAdapter } from '@shelfsync/storage-sqljs';
import {
  StoreStorage,
  StoreSync,
  refusalCause,
  releaseSurplus,
  withTopUp,
  type StoreSyncEvent,
  type TopUpResult,
} from '@shelfsync/sync';
import type { Context } from 'koa';
import type { z } from 'zod';
import { join } from 'node:path';
import * as Y from 'yjs';
import { buildHint, distDir } from '@shelfsync/dashboard/dist-dir';
import { checkStoreConfig, type StoreConfig } from './config.js';
import { HubLink } from './hub-link.js';
import { managerCheck, storeTokenReader } from './credentials.js';

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

const LOCAL = Symbol('shelfsync.local');

/**
 * Starts a store node: the local POS API, the SKU documents on the embedded
 * sql.js storage, and the link to the hub. Sales only need local rights, so the
 * POS keeps working with the hub unreachable.
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
  /** Resolves once the first sync of a fresh replica is done and recorded. */
  let firstSynced: () => void = () => {};
  const firstSync = storage.firstSyncDone ? Promise.resolve() : new Promise<void>((resolve) => (firstSynced = resolve));
  const sync = new StoreSync(config.id, storage, {
    onAcked: (seconds) => syncLag.observe(seconds),
    onRelease: (sku, target, hub) => {
      release(sku, target, hub).catch((error: unknown) => log.warn({ err: error, sku }, 'release failed'));
    },
    onEvent: (event) => {
      logSyncEvent(log, event);
      if (event.type === 'caught-up' && !storage.firstSyncDone) {
        storage.markFirstSyncDone().then(
          () => {
            log.info('first sync done: this replica takes writes');
            firstSynced();
          },
          (error: unknown) => failStop(error),
        );
      }
    },
  });
  /** Set when local storage failed: memory may hold what the disk lacks, so nothing more is served. */
  let storageFailure: string | null = null;
  const failStop = (error: unknown): void => {
    if (storageFailure !== null) return;
    storageFailure = error instanceof Error ? error.message : String(error);
    sync.halt(`local storage failed: ${storageFailure}`);
    log.fatal({ err: error }, 'local storage failed: no more writes or syncing until restart');
  };
  const assertStorageHealthy = (): void => {
    if (storageFailure !== null) {
      throw problem(
        ErrorCode.StorageUnavailable,
        'this store could not write to its data directory and takes no more requests until it is restarted',
      );
    }
  };
  const assertReplicaReady = async (): Promise<void> => {
    if (storage.firstSyncDone) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, config.firstSyncWaitMs)));
    await Promise.race([firstSync, timeout]);
    clearTimeout(timer);
    if (!storage.firstSyncDone) {
      throw problem(
        ErrorCode.ReplicaNotReady,
        `this store's data directory is new: it must finish its first sync with the hub (${config.hubUrl}) before it takes writes; retry once GET /readyz answers 200`,
      );
    }
  };
  const idempotency = new IdempotencyKeys(adapter);
  const sales = metrics.counter(
    'shelfsync_sales_total',
    'Sales and ship-outs by outcome: local (own rights), topped_up (after a hub grant), override (manager override beyond rights), refused_offline, refused_connected, refused_override_cap, invalid',
    ['outcome'],
  );
  const refusedWithChainStock = metrics.counter(
    'shelfsync_sales_refused_with_chain_stock_total',
    'Sales refused while the chain, as this store last knew it, had the units: the price of bounded reservation',
  );
  const overrideUnits = metrics.counter(
    'shelfsync_override_units_total',
    'Units sold under the manager override beyond the POS rights (each is owed until the hub settles it)',
  );
  const refusedSales = metrics.counter(
    'shelfsync_sales_refused_total',
    "Sales refused for want of rights, by cause: location_empty (the shelf lacks the units), hub_unreachable (units in the online escrow, hub out of reach), online_escrow (the location's rights at the hub are promised online), topup_timeout",
    ['cause'],
  );
  const topUpSeconds = metrics.histogram('shelfsync_topup_duration_seconds', 'Time a sale waited on a hub top-up');
  metrics.reading('shelfsync_pending_sync_skus', 'SKUs with local changes the hub has not acknowledged', () =>
    storage.dirtyCount(),
  );
  metrics.reading('shelfsync_hub_connected', '1 while the link to the hub is live', () =>
    sync.status().connected ? 1 : 0,
  );
  const retentionMs = config.idempotencyHours * 3_600_000;
  const pruneAnswers = (): void => {
    idempotency.prune(retentionMs).then(
      (pruned) => {
        if (pruned > 0) log.info({ pruned }, 'old idempotency answers forgotten');
      },
      (error: unknown) => log.warn({ err: error }, 'pruning idempotency answers failed'),
    );
  };
  pruneAnswers();
  const pruneTimer = setInterval(pruneAnswers, Math.min(retentionMs / 4, 3_600_000));
  pruneTimer.unref();
  const writer = storeWriter(config.id);
  const own = storeAccount(config.id);

  /** Stores a local update and hands it to the sync once durable; a storage failure stops the store. */
  const persist = async (sku: Sku, update: Uint8Array, extra: StorageWrite[] = []): Promise<void> => {
    const durable = storage.recordLocal(sku, update, extra);
    sync.localUpdate(sku, update, durable);
    try {
      await durable;
    } catch (error) {
      failStop(error);
      const recorded = error instanceof StorageWriteError ? error.recorded : 'unknown';
      // Durable after all (a write after it failed): it is answered as done; the next request is refused.
      if (recorded === 'yes') return;
      throw problem(
        ErrorCode.StorageUnavailable,
        recorded === 'no'
          ? 'this store could not write to its data directory: the operation was not recorded; the store takes no more requests until it is restarted'
          : 'this store could not write to its data directory: the operation may or may not have been recorded; retry it with the same Idempotency-Key once the store is restarted',
      );
    }
  };

  /** Runs one local operation in one transaction; returns its result and the update it made. */
  const applyLocal = (doc: Y.Doc, operation: Operation) => {
    const updates: Uint8Array[] = [];
    const collect = (update: Uint8Array, origin: unknown): void => {
      if (origin === LOCAL) updates.push(update);
    };
    doc.on('update', collect);
    let result;
    try {
      result = applyOperation(doc, writer, operation, LOCAL);
    } finally {
      doc.off('update', collect);
    }
    const update = updates.length === 1 ? updates[0] : updates.length > 1 ? Y.mergeUpdates(updates) : undefined;
    return { result, update };
  };

  /**
   * The hub asks for rights above `target` back in the online escrow: judged on
   * this store's latest state, once it holds the hub changes the request was
   * decided on (a grant on its way would otherwise be released as surplus).
   */
  const release = async (sku: Sku, target: number, hub?: { client: number; clock: number }): Promise<void> => {
    if (storageFailure !== null || !storage.firstSyncDone) return;
    const doc = await storage.open(sku);
    const released = await releaseSurplus(doc, config.id, target, hub, (operation) => applyLocal(doc, operation));
    if (released === null || !released.result.ok || released.update === undefined) return;
    await persist(sku, released.update);
    log.info({ sku, released: released.released, target }, 'rights released to the online escrow');
  };

  /**
   * Applies one operation: one Yjs transaction, stored (with the request's
   * idempotency record, in one atomic batch) before it is answered or sent. A
   * sale beyond the store's rights, with the hub connected, first waits (at most
   * topUpWaitMs) for a top-up from the store's online escrow.
   */
  const commit = async (
    path: string,
    sku: Sku,
    operation: Operation,
    quantity: number,
    name: OperationResponse['operation'],
    recordWrites: (status: number, body: unknown) => StorageWrite[],
    onTopUp: (ms: number) => void,
    override: boolean,
  ) => {
    const doc = await storage.open(sku);
    let { result, update } = applyLocal(doc, operation);
    let topUp: TopUpResult | null = null;
    const isSale = operation.type === 'sell' || operation.type === 'shipOut';
    // A count below the books commits the missing units: it may need rights from the online escrow too.
    const commitsUnits = isSale || operation.type === 'count';
    let askedHub = false;
    if (!result.ok && result.error.code === ErrorCode.InsufficientRights && commitsUnits) {
      askedHub = sync.status().connected;
      const started = performance.now();
      const attempt = () => applyLocal(doc, operation);
      ({ result, update, topUp } = await withTopUp(sync, doc, sku, { result, update }, attempt, config.topUpWaitMs));
      if (askedHub) {
        const ms = performance.now() - started;
        topUpSeconds.observe(ms / 1000);
        onTopUp(ms);
      }
    }
    // The manager override: only once the rights (and a top-up, if the hub answered) fell short.
    let overridden = 0;
    if (override && operation.type === 'sell' && !result.ok && result.error.code === ErrorCode.InsufficientRights) {
      // Never beyond the hub's own cap, as far as this store has heard it: the hub would refuse the SKU's updates.
      const hubCap = sync.hubOverrideCap;
      const cap = hubCap === null ? config.overrideCap : Math.min(config.overrideCap, hubCap);
      ({ result, update } = applyLocal(doc, { ...operation, type: 'sellOverride', cap }));
      if (result.ok) {
        overridden = result.value.overridden ?? 0;
        overrideUnits.inc(overridden);
        log.warn(
          { sku, quantity: operation.quantity, overridden, hubReachable: sync.status().connected },
          'sale under manager override',
        );
      }
    }
    if (isSale) {
      const outcome = result.ok
        ? overridden > 0
          ? 'override'
          : askedHub
            ? 'topped_up'
            : 'local'
        : result.error.code === ErrorCode.OverrideCapExceeded
          ? 'refused_override_cap'
          : result.error.code !== ErrorCode.InsufficientRights
            ? 'invalid'
            : askedHub
              ? 'refused_connected'
              : 'refused_offline';
      sales.inc({ outcome });
      // The price of bounded reservation: a sale refused while units were left somewhere in the chain.
      if (!result.ok && computeStock(doc).value >= operation.quantity) refusedWithChainStock.inc();
    }
    if (!result.ok) {
      // Why: the till's message, and the metric that tells an escrow failure from an empty shelf.
      const requested = Number(result.error.details?.requested ?? quantity);
      const cause =
        commitsUnits && result.error.code === ErrorCode.InsufficientRights
          ? refusalCause({ requested, onShelf: stockFigures(doc).onShelf, asked: askedHub, topUp })
          : undefined;
      if (cause !== undefined && isSale) {
        refusedSales.inc({ cause });
        // Told to the hub too (best effort), whose chain view otherwise misses refusals made while cut off.
        sync.reportRefusal({ sku, quantity, cause, chainAvailable: computeStock(doc).value });
      }
      // A refusal is an answer, kept under the idempotency key like a success.
      const details = {
        ...result.error.details,
        hubReachable: sync.status().connected,
        ...(topUp === null ? {} : { availableAtLocation: topUp.available }),
        ...(cause === undefined ? {} : { cause }),
      };
      return {
        status: httpStatusByCode[result.error.code],
        body: toProblem({ ...result.error, details }, { instance: path }),
        recorded: false,
      };
    }
    const body: OperationResponse = {
      operation: name,
      sku,
      quantity,
      ...stockFigures(doc),
      ...(operation.type === 'count' ? { delta: result.value.delta } : {}),
      ...(overridden > 0 ? { overridden } : {}),
    };
    if (update === undefined) return { status: 201, body, recorded: false };
    await persist(sku, update, recordWrites(201, body));
    return { status: 201, body, recorded: true };
  };

  const stockFigures = (doc: Y.Doc) => {
    const view = computeStock(doc);
    const deficit = deficitAllowance(doc, own);
    return {
      rights: view.accounts[own]?.rights ?? 0,
      onShelf: view.locations[config.id]?.onShelf ?? 0,
      available: view.value,
      ...(deficit > 0 ? { deficit } : {}),
    };
  };

  const mutate = (
    path: string,
    handle: (ctx: Context) => Promise<{
      sku: Sku;
      operation: Operation;
      quantity: number;
      name: OperationResponse['operation'];
      override?: boolean;
    }>,
  ) =>
    router.post(path, async (ctx) => {
      const header = ctx.get('idempotency-key');
      const key = header === '' ? undefined : parseOrThrow(IdempotencyKeySchema, header, 'header.Idempotency-Key');
      assertStorageHealthy();
      const input = await handle(ctx);
      await assertReplicaReady();
      assertStorageHealthy();
      const answer = await idempotency.run(key, { method: 'POST', path, body: input }, (recordWrites) =>
        commit(
          path,
          input.sku,
          input.operation,
          input.quantity,
          input.name,
          recordWrites,
          (ms) => ctx.set('Server-Timing', `topup;dur=${ms.toFixed(1)}`),
          input.override === true,
        ),
      );
      ctx.status = answer.status;
      if (answer.status >= 400) ctx.type = 'application/problem+json';
      if (answer.replayed) ctx.set('Idempotent-Replayed', 'true');
      ctx.body = answer.body;
    });

  const requireManager = managerCheck(config, log);

  const router = new Router<RequestState>();
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
  const movement = (type: 'receive' | 'return') => async (ctx: Context) => {
    const { sku, quantity } = await readJson(ctx, StockMovementRequestSchema);
    return { sku, quantity, name: type, operation: { type, account: own, quantity } satisfies Operation };
  };
  mutate('/v1/receipts', movement('receive'));
  mutate('/v1/sales', async (ctx) => {
    const { sku, quantity, override } = await readJson(ctx, SaleRequestSchema);
    if (override === true) requireManager(ctx);
    const operation = { type: 'sell', account: own, quantity } satisfies Operation;
    return { sku, quantity, name: 'sell' as const, operation, ...(override === undefined ? {} : { override }) };
  });
  mutate('/v1/returns', movement('return'));
  mutate('/v1/adjustments', async (ctx) => {
    const { sku, counted } = await readJson(ctx, AdjustmentRequestSchema);
    return { sku, quantity: counted, name: 'count', operation: { type: 'count', account: own, counted } };
  });
  mutate('/v1/transfers', async (ctx) => {
    const { sku, quantity, toStore } = await readJson(ctx, TransferOutRequestSchema);
    if (toStore === config.id) throw problem(ErrorCode.ValidationFailed, 'a store cannot ship to itself');
    return { sku, quantity, name: 'shipOut', operation: { type: 'shipOut', account: own, quantity } };
  });
  mutate('/v1/transfers/receive', async (ctx) => {
    const { sku, quantity } = await readJson(ctx, TransferInRequestSchema);
    return { sku, quantity, name: 'receiveTransfer', operation: { type: 'receiveTransfer', account: own, quantity } };
  });

  router.get('/v1/skus/:sku', async (ctx) => {
    const sku = parseOrThrow(SkuSchema, ctx.params.sku, 'path.sku');
    assertStorageHealthy();
    if (!storage.has(sku)) throw problem(ErrorCode.NotFound, `this store holds nothing for ${sku}`);
    const doc = await storage.open(sku);
    const status = sync.status();
    ctx.body = {
      sku,
      storeId: config.id,
      ...stockFigures(doc),
      hubConnected: status.connected,
      lastSyncedAt: status.lastSyncedAt === null ? null : new Date(status.lastSyncedAt).toISOString(),
      pendingSync: storage.isDirty(sku),
    } satisfies z.infer<typeof StoreSkuSchema>;
  });
  router.get('/v1/skus/:sku/ledger', async (ctx) => {
    const sku = parseOrThrow(SkuSchema, ctx.params.sku, 'path.sku');
    assertStorageHealthy();
    if (!storage.has(sku)) throw problem(ErrorCode.NotFound, `this store holds nothing for ${sku}`);
    ctx.body = { sku, ...ledgerSummary(await storage.open(sku)) } satisfies SkuLedger;
  });

  router.get('/v1/status', (ctx) => {
    const status = sync.status();
    ctx.body = {
      storeId: config.id,
      hub: {
        url: config.hubUrl,
        connected: status.connected,
        caughtUp: status.caughtUp,
        lastSyncedAt: status.lastSyncedAt === null ? null : new Date(status.lastSyncedAt).toISOString(),
        cursor: status.cursor,
        problem: status.connected ? null : link.problem,
        tokenExpiresAt: link.tokenExpiresAt === null ? null : new Date(link.tokenExpiresAt).toISOString(),
      },
      ready: storageFailure === null && storage.firstSyncDone,
      firstSyncDone: storage.firstSyncDone,
      storage: storageFailure === null ? 'ok' : 'failed',
      skus: storage.skus().length,
      pendingSync: storage.dirtyCount(),
      rejected: [...status.rejected].map(([sku, error]) => ({ sku, ...error })),
    } satisfies z.infer<typeof StoreStatusSchema>;
  });

  // Ready: storage loaded and healthy, and (for a fresh replica) the first sync done.
  router.get('/readyz', (ctx) => {
    assertStorageHealthy();
    if (!storage.firstSyncDone) {
      throw problem(ErrorCode.ReplicaNotReady, 'waiting for the first sync with the hub before taking writes');
    }
    ctx.body = { status: 'ready' };
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
      await adapter.close();
      log.info('store stopped');
    },
  };
}

function logSyncEvent(log: Logger, event: StoreSyncEvent): void {
  if (event.type === 'halted') log.error(event, event.type);
  else if (event.type === 'rejected' || event.type === 'protocol-error') log.warn(event, event.type);
  else log.info(event, event.type);
}
