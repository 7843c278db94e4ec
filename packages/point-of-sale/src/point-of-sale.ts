import {
  applyOperation,
  computeStock,
  deficitAllowance,
  type Operation,
  type OperationOutcome,
  type StockView,
} from '@shelfsync/core';
import {
  ErrorCode,
  ShelfsyncFailure,
  shelfsyncError,
  storeAccount,
  storeWriter,
  toProblem,
  withDetails,
  type OperationResponse,
  type Problem,
  type RefusalCause,
  type Result,
  type ShelfsyncError,
  type Sku,
  type StoreId,
} from '@shelfsync/protocol';
import { StorageWriteError, type StorageWrite } from '@shelfsync/storage';
import {
  refusalCause,
  releaseSurplus,
  withTopUp,
  type StoreStorage,
  type StoreSync,
  type TopUpResult,
} from '@shelfsync/sync';
import * as Y from 'yjs';
import type { PosRequest } from './requests.js';
import type { ReplicaHealth } from './replica-health.js';
import { saleOutcome, type SaleOutcome } from './sale-outcome.js';

/** What the point of sale tells its owner (metrics, logs); every hook is optional. */
export interface PointOfSaleObserver {
  /** A sale or ship-out ended so. */
  sale?(outcome: SaleOutcome): void;
  /** A sale was refused for want of rights, for this cause. */
  refused?(cause: RefusalCause): void;
  /** A sale was refused while the chain, as this store knows it, held the units. */
  refusedWithChainStock?(): void;
  /** A sale went through under the manager override, `units` beyond the rights. */
  overridden?(sale: { sku: Sku; quantity: number; overridden: number; hubReachable: boolean }): void;
  /** A request waited this long on a hub top-up. */
  waitedForTopUp?(ms: number): void;
  /** The store released rights to its online escrow, as the hub asked. */
  released?(sku: Sku, released: number, target: number): void;
}

export interface PointOfSaleOptions {
  readonly storeId: StoreId;
  readonly storage: StoreStorage;
  readonly sync: StoreSync;
  readonly health: ReplicaHealth;
  /** How long a sale beyond the store's rights waits for a hub top-up. */
  readonly topUpWaitMs: number;
  /** Units this store may owe under the manager override (0: off). */
  readonly overrideCap: number;
  readonly observer?: PointOfSaleObserver;
}

/** Where a request came from, for its answer. */
export interface PerformContext {
  /** The writes that keep the answer under the request's idempotency key; they join the change's atomic batch. */
  readonly recordWrites?: (status: number, body: unknown) => StorageWrite[];
  /** The problem body's `instance` (the request's path). */
  readonly instance?: string;
}

/** A POS answer: an HTTP status and body, and whether its idempotency record went with the change. */
export interface PosAnswer {
  readonly status: number;
  readonly body: OperationResponse | Problem;
  readonly recorded: boolean;
  /** Milliseconds the request waited on a hub top-up, when it asked one. */
  readonly topUpMs?: number;
}

/** What a store's own figures of a SKU are, as its POS answers carry them. */
export interface StockFigures {
  readonly rights: number;
  readonly onShelf: number;
  readonly available: number;
  readonly deficit?: number;
}

const LOCAL = Symbol('shelfsync.pos');

/**
 * The store's point of sale: runs each operation on the local replica in one
 * Yjs transaction, stores it (with the request's idempotency record, in one
 * atomic batch) before it is answered or sent to the hub, and for a sale beyond
 * the store's rights first waits (at most `topUpWaitMs`) for a top-up from the
 * location's online escrow, then, if allowed, the manager override.
 */
export class PointOfSale {
  private readonly own;
  private readonly writer;

  constructor(private readonly options: PointOfSaleOptions) {
    this.own = storeAccount(options.storeId);
    this.writer = storeWriter(options.storeId);
  }

  /**
   * Runs one request. Refusals are answers too (problem bodies with their
   * status), kept under the request's idempotency key like a success.
   */
  async perform(request: PosRequest, context: PerformContext = {}): Promise<PosAnswer> {
    const { sku, operation, quantity } = request;
    const { sync } = this.options;
    const doc = await this.options.storage.open(sku);
    const commit = (op: Operation) => this.commit(doc, request, op, context.recordWrites ?? (() => []));
    let current = commit(operation);
    let topUp: TopUpResult | null = null;
    let topUpMs: number | undefined;
    const isSale = operation.type === 'sell' || operation.type === 'shipOut';
    // A count below the books commits the missing units: it may need rights from the online escrow too.
    const commitsUnits = isSale || operation.type === 'count';
    let askedHub = false;
    if (lacksRights(current.result) && commitsUnits) {
      askedHub = sync.status().connected;
      const started = performance.now();
      ({ topUp, ...current } = await withTopUp(
        sync,
        doc,
        sku,
        current,
        () => commit(operation),
        this.options.topUpWaitMs,
      ));
      if (askedHub) {
        topUpMs = performance.now() - started;
        this.options.observer?.waitedForTopUp?.(topUpMs);
      }
    }
    // The manager override: only once the rights (and a top-up, if the hub answered) fell short.
    if (request.override === true && operation.type === 'sell' && lacksRights(current.result)) {
      current = commit({ ...operation, type: 'sellOverride', cap: this.overrideCap() });
    }
    const { result } = current;
    const overridden = result.ok ? (result.value.overridden ?? 0) : 0;
    if (overridden > 0) {
      const hubReachable = sync.status().connected;
      this.options.observer?.overridden?.({ sku, quantity, overridden, hubReachable });
    }
    if (isSale) this.observeSale(doc, request.sku, operation.quantity, result, askedHub, overridden);
    const timing = topUpMs === undefined ? {} : { topUpMs };
    if (!result.ok) {
      const body = this.refusal(doc, request, result.error, { askedHub, topUp, commitsUnits });
      const problem = toProblem(body, context.instance === undefined ? {} : { instance: context.instance });
      return { status: problem.status, body: problem, recorded: false, ...timing };
    }
    if (current.durable !== null) await this.settle(current.durable);
    return {
      status: 201,
      body: current.body ?? this.answer(doc, request, result.value),
      recorded: current.durable !== null,
      ...timing,
    };
  }

  /**
   * The hub asks for rights above `target` back in the online escrow: judged on
   * this store's latest state, once it holds the hub changes the request was
   * decided on (a grant on its way would otherwise be released as surplus).
   */
  async release(sku: Sku, target: number, hub?: { client: number; clock: number }): Promise<void> {
    if (this.options.health.failure !== null || !this.options.storage.firstSyncDone) return;
    const doc = await this.options.storage.open(sku);
    const released = await releaseSurplus(doc, this.options.storeId, target, hub, (operation) => {
      const attempt = this.applyLocal(doc, operation);
      const durable = attempt.update === undefined ? null : this.record(sku, attempt.update);
      return { ...attempt, durable };
    });
    if (released === null || !released.result.ok || released.durable === null) return;
    await this.settle(released.durable);
    this.options.observer?.released?.(sku, released.released, target);
  }

  /**
   * Applies one operation and, if it changed the document, hands the change to
   * storage and sync in the same tick, with the answer's idempotency record: a
   * change applied now and recorded after an await could be overtaken by another
   * local change of the SKU (a release, another till), and reach the hub after a
   * change that builds on it, which the hub refuses.
   */
  private commit(
    doc: Y.Doc,
    request: PosRequest,
    operation: Operation,
    recordWrites: (status: number, body: unknown) => StorageWrite[],
  ) {
    const attempt = this.applyLocal(doc, operation);
    if (!attempt.result.ok) return { ...attempt, body: null, durable: null };
    const body = this.answer(doc, request, attempt.result.value);
    const durable =
      attempt.update === undefined ? null : this.record(request.sku, attempt.update, recordWrites(201, body));
    return { ...attempt, body, durable };
  }

  /** A successful operation's answer: what was done, and the store's figures right after it. */
  private answer(doc: Y.Doc, request: PosRequest, outcome: OperationOutcome): OperationResponse {
    return {
      operation: request.name,
      sku: request.sku,
      quantity: request.quantity,
      ...this.figures(doc, request.sku),
      ...(request.operation.type === 'count' ? { delta: outcome.delta } : {}),
      ...((outcome.overridden ?? 0) > 0 ? { overridden: outcome.overridden } : {}),
    };
  }

  /** Never beyond the hub's own cap, as far as this store has heard it: the hub would refuse the SKU's updates. */
  private overrideCap(): number {
    const hubCap = this.options.sync.hubOverrideCap;
    return hubCap === null ? this.options.overrideCap : Math.min(this.options.overrideCap, hubCap);
  }

  /** The store's own figures of a SKU: its POS rights, its shelf, the chain's available units, a deficit it owes. */
  figures(doc: Y.Doc, sku: Sku): StockFigures {
    const view = computeStock(doc);
    const deficit = deficitAllowance(doc, this.own);
    return {
      rights: view.accounts[this.own]?.rights ?? 0,
      onShelf: view.locations[this.options.storeId]?.onShelf ?? 0,
      available: this.shownAvailable(view, sku),
      ...(deficit > 0 ? { deficit } : {}),
    };
  }

  /**
   * The chain's uncommitted units of `sku` as this store knows them: its whole
   * replica's, or, holding only its share, its location's plus the hub's last
   * figure for every other location (undefined until one came).
   */
  chainAvailable(view: StockView, sku: Sku): number | undefined {
    const { sync, storeId } = this.options;
    if (!sync.holdsShare) return view.value;
    const elsewhere = sync.chainElsewhere(sku);
    return elsewhere === undefined ? undefined : locationRights(view, storeId) + elsewhere.units;
  }

  /** The chain's units as the store shows them: `chainAvailable`, or its location's alone before the hub's figure came. */
  private shownAvailable(view: StockView, sku: Sku): number {
    return this.chainAvailable(view, sku) ?? locationRights(view, this.options.storeId);
  }

  private observeSale(
    doc: Y.Doc,
    sku: Sku,
    quantity: number,
    result: Result<unknown>,
    askedHub: boolean,
    overridden: number,
  ): void {
    const observer = this.options.observer;
    observer?.sale?.(saleOutcome(result, askedHub, overridden));
    // The price of bounded reservation: a sale refused while units were left somewhere in the chain.
    if (!result.ok) {
      if (this.shownAvailable(computeStock(doc), sku) >= quantity) observer?.refusedWithChainStock?.();
    }
  }

  /** A refusal as an answer: the till's message, its cause, and the report to the hub. */
  private refusal(
    doc: Y.Doc,
    request: PosRequest,
    error: ShelfsyncError,
    { askedHub, topUp, commitsUnits }: { askedHub: boolean; topUp: TopUpResult | null; commitsUnits: boolean },
  ): ShelfsyncError {
    const { sync } = this.options;
    const requested = error.code === ErrorCode.InsufficientRights ? error.details.requested : request.quantity;
    const cause =
      commitsUnits && error.code === ErrorCode.InsufficientRights
        ? refusalCause({ requested, onShelf: this.figures(doc, request.sku).onShelf, asked: askedHub, topUp })
        : undefined;
    const isSale = request.operation.type === 'sell' || request.operation.type === 'shipOut';
    if (cause !== undefined && isSale) {
      this.options.observer?.refused?.(cause);
      // Told to the hub too (best effort), whose chain view otherwise misses refusals made while cut off.
      const chainAvailable = this.chainAvailable(computeStock(doc), request.sku);
      sync.reportRefusal({
        sku: request.sku,
        quantity: request.quantity,
        cause,
        ...(chainAvailable === undefined ? {} : { chainAvailable }),
      });
    }
    const hubReachable = sync.status().connected;
    // What a top-up answered and why the sale was refused belong to INSUFFICIENT_RIGHTS, the one code they follow.
    if (error.code !== ErrorCode.InsufficientRights) return withDetails(error, { hubReachable });
    return withDetails(error, {
      hubReachable,
      ...(topUp === null ? {} : { availableAtLocation: topUp.available }),
      ...(cause === undefined ? {} : { cause }),
    });
  }

  /** Stores a local update and hands it to the sync, which sends it once durable; resolves when durable. */
  private record(sku: Sku, update: Uint8Array, extra: StorageWrite[] = []): Promise<void> {
    const durable = this.options.storage.recordLocal(sku, update, extra);
    this.options.sync.localUpdate(sku, update, durable);
    return durable;
  }

  /** Waits for a recorded change to be durable; a storage failure stops the store. */
  private async settle(durable: Promise<void>): Promise<void> {
    try {
      await durable;
    } catch (error) {
      this.options.health.failStop(error);
      const recorded = error instanceof StorageWriteError ? error.recorded : 'unknown';
      // Durable after all (a write after it failed): it is answered as done; the next request is refused.
      if (recorded === 'yes') return;
      throw new ShelfsyncFailure(
        shelfsyncError(
          ErrorCode.StorageUnavailable,
          recorded === 'no'
            ? 'this store could not write to its data directory: the operation was not recorded; the store takes no more requests until it is restarted'
            : 'this store could not write to its data directory: the operation may or may not have been recorded; retry it with the same Idempotency-Key once the store is restarted',
        ),
      );
    }
  }

  /** Runs one local operation in one transaction; returns its result and the update it made. */
  private applyLocal(doc: Y.Doc, operation: Operation) {
    const updates: Uint8Array[] = [];
    const collect = (update: Uint8Array, origin: unknown): void => {
      if (origin === LOCAL) updates.push(update);
    };
    doc.on('update', collect);
    let result;
    try {
      result = applyOperation(doc, this.writer, operation, LOCAL);
    } finally {
      doc.off('update', collect);
    }
    const update = updates.length === 1 ? updates[0] : updates.length > 1 ? Y.mergeUpdates(updates) : undefined;
    return { result, update };
  }
}

/** A refusal for want of rights: the one a top-up or the override may turn around. */
function lacksRights(result: Result<unknown>): boolean {
  return !result.ok && result.error.code === ErrorCode.InsufficientRights;
}

/** A location's rights: what its POS and its online escrow may still commit. */
function locationRights(view: StockView, location: string): number {
  const here = view.locations[location];
  return here === undefined ? 0 : here.posRights + here.onlineRights;
}
