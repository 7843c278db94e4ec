import { validateUpdate } from '@shelfsync/core';
import {
  CloseCode,
  ErrorCode,
  SkuSchema,
  storeWriter,
  writerKey,
  type ErrorCode as Code,
  type StoreId,
  type TableCloseCode,
} from '@shelfsync/protocol';
import * as Y from 'yjs';
import { TokenBucket } from './budget.js';
import {
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  forProtocol,
  type ControlMessage,
  type Hello,
  type TopUp,
} from './control.js';
import {
  FrameError,
  SyncMessageType,
  decodeFrame,
  encodeControlFrame,
  encodeDocFrame,
  type DocFrame,
} from './frames.js';
import { Step1Allowance, catchUpFor } from './hub-catch-up.js';
import type { HubDocuments, HubSync, HubSyncOptions, TopUpAnswer } from './hub-sync.js';
import { RefusalReports } from './hub-refusal-reports.js';
import { MAX_TOP_UPS_IN_FLIGHT, PendingTopUps } from './hub-top-ups.js';
import type { Transport } from './transport.js';

/** One store's connection at the hub. Frames are processed one at a time, in order. */
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
  private readonly topUps: TokenBucket;
  private readonly pendingTopUps: PendingTopUps;
  private readonly refusals: RefusalReports;
  private readonly handshakeTimer: ReturnType<typeof setTimeout>;

  constructor(
    private readonly hub: HubSync,
    private readonly documents: HubDocuments,
    private readonly options: HubSyncOptions,
    readonly storeId: StoreId,
    private readonly transport: Transport,
  ) {
    this.step1s = new Step1Allowance(options.step1Budget, options.now);
    this.topUps = new TokenBucket(options.topUpBudget, options.now);
    this.pendingTopUps = new PendingTopUps(documents);
    this.refusals = new RefusalReports(storeId, options);
    transport.onMessage((bytes) => {
      this.queue = this.queue
        .then(() => this.handle(bytes))
        .catch((error: unknown) => {
          this.options.onEvent({ type: 'protocol-error', storeId, detail: `internal: ${String(error)}` });
          this.close(CloseCode.InternalError);
        });
    });
    transport.onClose((code, reason) => {
      clearTimeout(this.handshakeTimer);
      this.pendingTopUps.endAll();
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

  get bufferedAmount(): number {
    return this.transport.bufferedAmount;
  }

  /** Closes the session with a named close code. */
  close(closeCode: TableCloseCode): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closedByHub = true;
    clearTimeout(this.handshakeTimer);
    this.pendingTopUps.endAll();
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
        if (this.pendingTopUps.inFlight >= MAX_TOP_UPS_IN_FLIGHT || !this.topUps.take()) {
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
    this.send({
      type: 'error',
      code: ErrorCode.RateLimited,
      detail: `${budget === 'step1' ? 'step 1' : 'top-up'} requests above this session's budget`,
    });
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
    let frame;
    try {
      frame = decodeFrame(bytes);
    } catch {
      return;
    }
    if (frame.kind === 'doc' && frame.type !== SyncMessageType.Step1) await this.handleDoc(frame);
  }

  /**
   * Off the session's queue: the store's changes the request names may still be
   * behind it in that queue (a SKU catching up sends them after its step 2), and
   * the answer must wait until they are applied, or the hub would judge on sales
   * it has not seen. Frames still go out in order: a grant is relayed inside the
   * hub's write, before this answer is sent.
   */
  private handleTopUp(request: TopUp): void {
    this.answerTopUp(request).catch((error: unknown) => {
      this.options.onEvent({ type: 'protocol-error', storeId: this.storeId, detail: `top-up: ${String(error)}` });
    });
  }

  private async answerTopUp(request: TopUp): Promise<void> {
    await this.pendingTopUps.holding(request.sku, request.client, request.clock);
    if (!this.isLive) return;
    const allocator = this.hub.allocator;
    const answer: TopUpAnswer =
      allocator === null
        ? { granted: 0, available: 0, rights: 0 }
        : await allocator.topUp(this.storeId, request.sku, request.quantity);
    // The hub's changes so far, the grant's included: the store waits until it holds them.
    const doc = await this.documents.open(request.sku);
    const hub = { client: doc.clientID, clock: Y.getState(doc.store, doc.clientID) };
    this.send({ type: 'topup-result', ref: request.ref, sku: request.sku, ...answer, ...hub });
  }

  private welcome(hello: Hello): void {
    if (hello.protocol < MIN_PROTOCOL_VERSION || hello.protocol > PROTOCOL_VERSION) {
      // Sent before the session is live (send() would drop it), so the store's log says why it was closed.
      this.transport.send(
        encodeControlFrame({
          type: 'error',
          code: ErrorCode.ValidationFailed,
          detail: `protocol ${hello.protocol} unsupported; this hub speaks ${MIN_PROTOCOL_VERSION} to ${PROTOCOL_VERSION} (upgrade the hub before its stores)`,
        }),
      );
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
    const { changed, cursor } = catchUpFor(this.documents, hello);
    // The store sends a step 1 for each SKU of changed ∪ dirty: those are free.
    this.step1s.welcomed(changed, hello);
    this.send({
      type: 'welcome',
      protocol: this.protocol,
      epoch: this.documents.epoch,
      cursor,
      changed,
      overrideCap: this.options.maxDeficit,
    });
    this.options.onEvent({
      type: 'handshake',
      storeId: this.storeId,
      changed: changed.length,
      dirty: hello.dirty.length,
    });
  }

  private async handleDoc(frame: DocFrame): Promise<void> {
    const sku = SkuSchema.safeParse(frame.sku);
    if (!sku.success) {
      this.reject(frame, ErrorCode.ValidationFailed, `"${frame.sku.slice(0, 80)}" is not a SKU`);
      return;
    }
    const doc = await this.documents.open(sku.data);
    if (frame.type === SyncMessageType.Step1) {
      if (this.state === 'closed') return;
      let diff: Uint8Array | null;
      try {
        diff = await this.documents.readDurable(sku.data, () => {
          try {
            return Y.encodeStateAsUpdate(doc, frame.payload);
          } catch {
            return null;
          }
        });
      } catch {
        return; // the storage failed: the hub halts, and this session with it
      }
      if (diff === null) {
        this.reject(frame, ErrorCode.ValidationFailed, 'step 1 carries a malformed state vector');
        return;
      }
      // Closed meanwhile? (Read through the getter: TypeScript keeps its narrowing across the await.)
      if (!this.isLive) return;
      this.sendFrame(encodeDocFrame(sku.data, 0, SyncMessageType.Step2, diff));
      this.sendFrame(encodeDocFrame(sku.data, 0, SyncMessageType.Step1, Y.encodeStateVector(doc)));
      this.ack(frame.ref);
      return;
    }

    // Accepted or not, the store has sent what it had for this SKU: it is no longer pending.
    this.hub.received(this.storeId, sku.data);
    const writer = storeWriter(this.storeId);
    const verdict = validateUpdate(doc, frame.payload, writer, {
      maxDeficit: this.options.maxDeficit,
      clientOwner: (client) => this.documents.clientOwner(client),
    });
    if (!verdict.ok) {
      this.reject(frame, verdict.error.code, verdict.error.detail);
      return;
    }
    if (verdict.value.changed) {
      // In the same tick as the verdict: no other writer's update can claim these ids in between.
      const reservations = this.documents.reserveClients(writerKey(writer), verdict.value.clients);
      if (typeof reservations === 'string') {
        this.reject(frame, ErrorCode.UpdateClientIdTaken, reservations);
        return;
      }
      // Relay what actually changed (Yjs' own incremental update), not the
      // store's bytes: a step 2 also carries the store's whole delete set.
      let applied: Uint8Array | null = null;
      const capture = (update: Uint8Array, origin: unknown): void => {
        if (origin === this) applied = update;
      };
      doc.on('update', capture);
      try {
        Y.applyUpdate(doc, frame.payload, this);
      } finally {
        doc.off('update', capture);
      }
      const committed = applied ?? frame.payload;
      const change = await this.documents.commit(sku.data, committed, reservations);
      this.options.onEvent({ type: 'accepted', storeId: this.storeId, sku: sku.data, bytes: frame.payload.byteLength });
      this.ack(frame.ref, change);
      this.hub.broadcast(sku.data, committed, change, this);
      // Off the session's queue: rebalancing waits on hub writes, and must not hold up this store's frames.
      this.hub.allocator?.accepted(this.storeId, sku.data).catch((error: unknown) => {
        this.options.onEvent({ type: 'protocol-error', storeId: this.storeId, detail: `allocator: ${String(error)}` });
      });
      return;
    }
    this.ack(frame.ref);
  }

  private ack(ref: number, change?: number): void {
    if (ref > 0) this.send(change === undefined ? { type: 'ack', ref } : { type: 'ack', ref, change });
  }

  private reject(frame: DocFrame, code: Code, detail: string): void {
    this.hub.countRejected(this.storeId);
    this.options.onEvent({ type: 'rejected', storeId: this.storeId, sku: frame.sku, code, detail });
    const sku = SkuSchema.safeParse(frame.sku);
    this.send({
      type: 'error',
      code,
      detail,
      ...(sku.success ? { sku: sku.data } : {}),
      ...(frame.ref > 0 ? { ref: frame.ref } : {}),
    });
    this.ack(frame.ref);
    this.countInvalid();
  }

  private countInvalid(): void {
    this.invalid++;
    if (this.invalid > this.options.maxInvalidUpdates) this.close(CloseCode.TooManyInvalidUpdates);
  }
}
