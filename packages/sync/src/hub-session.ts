import {
  CloseCode,
  ErrorCode,
  SkuSchema,
  type ErrorCode as Code,
  type Sku,
  type StoreId,
  type TableCloseCode,
} from '@shelfsync/protocol';
import { ledgerOf } from '@shelfsync/core';
import {
  PROTOCOL_VERSION,
  SCHEMA_2_PROTOCOL,
  SHARE_PROTOCOL,
  forProtocol,
  type ControlMessage,
  type Hello,
  type TopUp,
} from './control.js';
import { FrameError, SyncMessageType, decodeFrame, encodeControlFrame, type DocFrame } from './frames.js';
import { Step1Allowance, overBudgetError, speaks, unsupportedProtocol, welcomeFor } from './hub-handshake.js';
import { changeFrameOf, refusalOf, restOfShare, step1Answer } from './hub-doc-frames.js';
import { CommitConflict } from './hub-change-log.js';
import type { HubEngine } from './hub-engine.js';
import type { AllocatorHooks, HubDocuments, HubSync, HubSyncOptions } from './hub-sync.js';
import { RefusalReports } from './hub-refusal-reports.js';
import { SessionTopUps } from './hub-top-ups.js';
import type { Transport } from './transport.js';

/** What every session of one hub shares. */
export interface HubSessionContext {
  /** The store links: what each store's sessions have done, and the live session of each. */
  readonly hub: HubSync;
  /** Where a store's update is applied, committed and relayed. */
  readonly engine: Pick<HubEngine, 'acceptStoreUpdate'>;
  readonly documents: HubDocuments;
  readonly options: HubSyncOptions;
  /** The allocator attached now, read when each top-up is decided. */
  readonly allocator: () => AllocatorHooks | null;
}

/**
 * One store's connection at the hub. Frames are processed one at a time, in
 * order. The session frames, budgets, acknowledges and refuses; what a store's
 * update does to the hub's document is the engine's (`HubEngine.acceptStoreUpdate`).
 */
export class HubSession {
  private state: 'handshake' | 'live' | 'closed' = 'handshake';
  /** The protocol version the store speaks (from its hello); messages to it are sent as that version has them. */
  private protocol = PROTOCOL_VERSION;
  /** Past the handshake at some point: its doc frames came from an authenticated, live store. */
  private wasLive = false;
  /**
   * The hub ended the session (cut, refusals, slow reader, replaced, halted,
   * shutting down): frames still queued are dropped, as a partition would drop
   * them, and the store sends them again on its next connection.
   */
  private closedByHub = false;
  private queue: Promise<void> = Promise.resolve();
  private invalid = 0;
  private readonly step1s: Step1Allowance;
  private readonly topUps: SessionTopUps;
  private readonly refusals: RefusalReports;
  private readonly handshakeTimer: ReturnType<typeof setTimeout>;
  private readonly hub: HubSync;
  private readonly engine: HubSessionContext['engine'];
  private readonly documents: HubDocuments;
  private readonly options: HubSyncOptions;

  constructor(
    context: HubSessionContext,
    readonly storeId: StoreId,
    private readonly transport: Transport,
  ) {
    const { options } = context;
    this.hub = context.hub;
    this.engine = context.engine;
    this.documents = context.documents;
    this.options = options;
    this.step1s = new Step1Allowance(options.step1Budget, options.now);
    this.topUps = new SessionTopUps(context.documents, storeId, context.allocator, options.topUpBudget, options.now);
    this.refusals = new RefusalReports(storeId, options);
    transport.onMessage((bytes) => {
      this.queue = this.queue
        .then(() => this.handle(bytes))
        .catch((error: unknown) => {
          if (error instanceof CommitConflict) {
            // Another hub node committed first: this node's copy is read again, and the store resyncs.
            this.options.onEvent({ type: 'conflict', storeId, detail: error.message });
            this.close(CloseCode.TryAgainLater);
            return;
          }
          this.options.onEvent({ type: 'protocol-error', storeId, detail: `internal: ${String(error)}` });
          this.close(CloseCode.InternalError);
        });
    });
    transport.onClose((code, reason) => {
      clearTimeout(this.handshakeTimer);
      this.topUps.endAll();
      this.state = 'closed';
      this.hub.detach(this);
      this.options.onEvent({ type: 'disconnected', storeId, code, reason });
    });
    this.handshakeTimer = setTimeout(() => {
      if (this.state === 'handshake') this.close(CloseCode.HandshakeTimeout);
    }, options.handshakeTimeoutMs);
    // A timer must never keep a process alive on its own.
    if (typeof this.handshakeTimer === 'object' && 'unref' in this.handshakeTimer) this.handshakeTimer.unref();
  }

  get isLive(): boolean {
    return this.state === 'live';
  }

  /** Whether the store reads schema version 2 (its protocol; assumed until its hello says otherwise). */
  get readsVersion2(): boolean {
    return this.protocol >= SCHEMA_2_PROTOCOL;
  }

  /** Whether the store holds only its share of each document (ADR 0022), and is sent only that. */
  get readsShares(): boolean {
    return this.protocol >= SHARE_PROTOCOL;
  }

  get bufferedAmount(): number {
    return this.transport.bufferedAmount;
  }

  /** Closes the session with a named close code. */
  close(closeCode: TableCloseCode): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closedByHub = true;
    clearTimeout(this.handshakeTimer);
    this.topUps.endAll();
    this.hub.detach(this);
    this.transport.close(closeCode.code, closeCode.reason);
  }

  /** @internal Sends a frame unless the store reads too slowly, in which case it is dropped from the hub. */
  sendFrame(frame: Uint8Array): void {
    if (this.state !== 'live') return;
    if (this.transport.bufferedAmount > this.options.maxBufferedBytes) {
      this.options.onEvent({
        type: 'slow-consumer',
        storeId: this.storeId,
        bufferedAmount: this.transport.bufferedAmount,
      });
      this.close(CloseCode.SlowConsumer);
      return;
    }
    this.transport.send(frame);
  }

  /** @internal Sends a control message as the store's protocol version has it (or not at all, if it has none). */
  send(message: ControlMessage): void {
    const spoken = forProtocol(message, this.protocol);
    if (spoken !== null) this.sendFrame(encodeControlFrame(spoken));
  }

  private protocolError(detail: string, closeCode: TableCloseCode = CloseCode.BadRequest): void {
    this.options.onEvent({ type: 'protocol-error', storeId: this.storeId, detail });
    if (this.state === 'live') this.send({ type: 'error', code: ErrorCode.ValidationFailed, detail });
    this.close(closeCode);
  }

  private async handle(bytes: Uint8Array): Promise<void> {
    if (this.state === 'closed') {
      await this.handleAfterClose(bytes);
      return;
    }
    this.hub.touch(this.storeId);
    let frame;
    try {
      frame = decodeFrame(bytes);
    } catch (error) {
      this.protocolError(error instanceof FrameError ? error.message : String(error));
      return;
    }
    if (this.state === 'handshake') {
      if (frame.kind !== 'control' || frame.message.type !== 'hello') {
        this.protocolError('the first frame must be hello');
        return;
      }
      this.welcome(frame.message);
      return;
    }
    if (frame.kind === 'control') {
      if (frame.message.type === 'error') {
        this.options.onEvent({
          type: 'protocol-error',
          storeId: this.storeId,
          detail: `store reports ${frame.message.code}: ${frame.message.detail}`,
        });
        // Each one is logged: a flood of them counts like refused updates.
        this.countInvalid();
        return;
      }
      if (frame.message.type === 'topup') {
        if (!this.topUps.admit()) {
          this.overBudget('topup');
          return;
        }
        this.handleTopUp(frame.message);
        return;
      }
      if (frame.message.type === 'refused') {
        this.refusals.receive(frame.message);
        return;
      }
      if (frame.message.type === 'follow' && this.readsShares) {
        this.hub.follow(this, frame.message.skus);
        return;
      }
      this.protocolError(`unexpected ${frame.message.type} from a store`);
      return;
    }
    if (frame.type === SyncMessageType.Step1 && !this.step1s.take(frame.sku)) {
      this.overBudget('step1');
      return;
    }
    await this.handleDoc(frame);
  }

  private overBudget(budget: 'step1' | 'topup'): void {
    this.options.onEvent({ type: 'budget-exceeded', storeId: this.storeId, budget });
    this.send(overBudgetError(budget));
    this.close(CloseCode.RequestBudgetExceeded);
  }

  /**
   * A frame that arrived before the store closed the connection but waited in
   * the queue behind slower ones (hub writes). A store's change in it is durable
   * at the store and is validated like any other, so it is applied now rather
   * than at the store's next connection: a store that stopped syncing because its
   * disk failed may not come back for hours, and the chain would not see sales it
   * acknowledged. Nothing is answered: requests (step 1, top-ups) end with the
   * connection. When the hub closed the session, nothing more is taken from it.
   */
  private async handleAfterClose(bytes: Uint8Array): Promise<void> {
    if (!this.wasLive || this.closedByHub || this.hub.halted !== null) return;
    const frame = changeFrameOf(bytes);
    if (frame !== null) await this.handleDoc(frame);
  }

  /**
   * Off the session's queue: the store's changes the request names may still be
   * behind it in that queue (a SKU catching up sends them after its step 2), and
   * the answer must wait until they are applied, or the hub would judge on sales
   * it has not seen. Frames still go out in order: a grant is relayed inside the
   * hub's write, before this answer is sent.
   */
  private handleTopUp(request: TopUp): void {
    const live = (): boolean => this.isLive;
    this.topUps
      .answer(request, live, (result) => this.send(result), !this.readsVersion2)
      .catch((error: unknown) => {
        this.options.onEvent({ type: 'protocol-error', storeId: this.storeId, detail: `top-up: ${String(error)}` });
      });
  }

  private welcome(hello: Hello): void {
    if (!speaks(hello.protocol)) {
      // Sent before the session is live (send() would drop it), so the store's log says why it was closed.
      this.transport.send(encodeControlFrame(unsupportedProtocol(hello.protocol)));
      this.protocolError(`unsupported protocol ${hello.protocol}`, CloseCode.UnsupportedProtocol);
      return;
    }
    // The store's own version, within the window: every message to it is sent as that version has it.
    this.protocol = hello.protocol;
    if (hello.storeId !== this.storeId) {
      this.protocolError(`hello names store ${hello.storeId}, the token ${this.storeId}`, CloseCode.Forbidden);
      return;
    }
    clearTimeout(this.handshakeTimer);
    this.state = 'live';
    this.wasLive = true;
    this.hub.handshaken(this.storeId, hello.dirty);
    const welcome = welcomeFor(this.documents, hello, this.options.maxDeficit, this.hub.shareChanged(this));
    // The store sends a step 1 for each SKU of changed ∪ dirty: those are free.
    this.step1s.welcomed(welcome.changed, hello);
    this.send(welcome);
    const [changed, dirty] = [welcome.changed.length, hello.dirty.length];
    this.options.onEvent({ type: 'handshake', storeId: this.storeId, changed, dirty });
  }

  private async handleDoc(frame: DocFrame): Promise<void> {
    const sku = SkuSchema.safeParse(frame.sku);
    if (!sku.success) {
      this.reject(frame, ErrorCode.ValidationFailed, `"${frame.sku.slice(0, 80)}" is not a SKU`);
      return;
    }
    if (frame.type === SyncMessageType.Step1) {
      await this.answerStep1(sku.data, frame);
      return;
    }
    // Accepted or not, the store has sent what it had for this SKU: it is no longer pending.
    this.hub.received(this.storeId, sku.data);
    // Only this session adds the store's entry, and it handles one frame at a time.
    const firstEntry = this.readsShares && !ledgerOf(await this.documents.open(sku.data)).has(`store:${this.storeId}`);
    // A failed commit rejects: nothing is acknowledged, and the queue's catch closes the session.
    const outcome = await this.engine.acceptStoreUpdate(this, sku.data, frame.payload, (change) => {
      // Durable, not yet relayed: the store hears its change number before any other store does.
      this.options.onEvent({ type: 'accepted', storeId: this.storeId, sku: sku.data, bytes: frame.payload.byteLength });
      if (!firstEntry) this.ack(frame.ref, change);
    });
    if (outcome.type === 'refused') this.reject(frame, outcome.code, outcome.detail);
    else if (outcome.type === 'held') this.ack(frame.ref);
    else if (firstEntry) {
      // The rest of its share goes before the acknowledgement: lost with the connection, the
      // change stays dirty at the store, and its next catch-up exchanges the SKU whatever its cursor.
      const rest = await restOfShare(this.documents, this.storeId, sku.data);
      if (rest !== null && this.isLive) this.sendFrame(rest);
      this.ack(frame.ref, outcome.change);
    }
  }

  /** A step 1: what the hub holds beyond the store's state vector (a step 2), then the hub's own step 1. */
  private async answerStep1(sku: Sku, frame: DocFrame): Promise<void> {
    const answer = await step1Answer(this.documents, this.storeId, this.protocol, sku, frame.payload);
    if (answer === 'malformed')
      this.reject(frame, ErrorCode.ValidationFailed, 'step 1 carries a malformed state vector');
    // Closed meanwhile? (A failed read rejected: the session closes, and the store asks again.)
    if (!Array.isArray(answer) || !this.isLive) return;
    for (const reply of answer) this.sendFrame(reply);
    this.ack(frame.ref);
  }

  private ack(ref: number, change?: number): void {
    if (ref <= 0) return;
    const cursor = this.hub.cursorFor(this);
    this.send({
      type: 'ack',
      ref,
      ...(change === undefined ? {} : { change }),
      ...(cursor === undefined ? {} : { cursor }),
    });
  }

  private reject(frame: DocFrame, code: Code, detail: string): void {
    this.hub.countRejected(this.storeId);
    this.options.onEvent({ type: 'rejected', storeId: this.storeId, sku: frame.sku, code, detail });
    this.send(refusalOf(frame, code, detail));
    this.ack(frame.ref);
    this.countInvalid();
  }

  private countInvalid(): void {
    this.invalid++;
    if (this.invalid > this.options.maxInvalidUpdates) this.close(CloseCode.TooManyInvalidUpdates);
  }
}
