import {
  CloseCode,
  Recovery,
  SkuSchema,
  recoveryByErrorCode,
  type Sku,
  type TableCloseCode,
} from '@shelfsync/protocol';
import * as Y from 'yjs';
import { forProtocol, type ControlMessage, type Welcome } from './control.js';
import { SyncMessageType, encodeControlFrame, encodeDocFrame, type DocFrame } from './frames.js';
import type { Transport } from './transport.js';
import { ResyncPacer } from './resync-pacer.js';
import { SentChanges } from './sent-changes.js';
import { SessionCursor } from './store-cursor.js';
import { cursorToResume, decodeHubFrame, helloDirty, hubMark } from './store-hello.js';
import type { StoreDocuments, StoreSync, StoreSyncOptions } from './store-sync.js';

/** One connection of a store to its hub: the handshake, the catch-up, live updates, acknowledgements and the cursor. */
export class StoreSession {
  private state: 'hello' | 'live' | 'closed' = 'hello';
  private queue: Promise<void> = Promise.resolve();
  private welcome: Welcome | null = null;
  /** SKUs waiting for the hub's step 2 (catch-up, or a gap found in a relayed update). */
  private readonly awaitingStep2 = new Set<string>();
  /** SKUs in catch-up whose local state has not been offered to the hub yet. */
  private readonly catchingUp = new Set<string>();
  /** Local changes not sent on this connection: the next catch-up carries them. */
  private readonly unsent = new Set<string>();
  /** Set from the welcome until every SKU's catch-up has started. */
  private startingCatchUp = false;
  /** Frames carrying local changes, until the hub acknowledges them. */
  private readonly sent = new SentChanges();
  /** The hub change number up to which this store holds every change. */
  private readonly cursor: SessionCursor;
  /** Resyncs of SKUs the hub found out of step, paced per SKU. */
  private readonly resyncs: ResyncPacer;
  private caughtUp = false;

  constructor(
    private readonly owner: StoreSync,
    private readonly documents: StoreDocuments,
    private readonly options: StoreSyncOptions,
    private readonly transport: Transport,
  ) {
    this.resyncs = new ResyncPacer(options.now);
    this.cursor = new SessionCursor(documents, options.protocol, (cursor) => owner.recordSynced(cursor));
    transport.onMessage((bytes) => {
      this.queue = this.queue
        .then(() => this.handle(bytes))
        .catch((error: unknown) => {
          this.options.onEvent({ type: 'protocol-error', detail: `internal: ${String(error)}` });
          this.close(CloseCode.InternalError);
        });
    });
    transport.onClose((code, reason) => {
      this.resyncs.stop();
      this.saveCursorOnClose();
      this.state = 'closed';
      this.owner.ended(this);
      this.options.onEvent({ type: 'closed', code, reason });
    });
  }

  /** The cursor is saved lazily while live; on close whatever it gained is kept. */
  private saveCursorOnClose(): void {
    this.cursor.closing((error: unknown) => {
      this.options.onEvent({ type: 'protocol-error', detail: `saving the cursor failed: ${String(error)}` });
    });
  }

  get isLive(): boolean {
    return this.state === 'live';
  }

  get isCaughtUp(): boolean {
    return this.state === 'live' && this.caughtUp;
  }

  start(): void {
    this.queue = this.queue.then(async () => {
      const [saved, dirty] = await Promise.all([this.documents.loadCursor(), this.documents.dirty()]);
      if (this.state === 'closed') return;
      const { epoch, cursor } = cursorToResume(saved, this.options.protocol);
      this.transport.send(
        encodeControlFrame({
          type: 'hello',
          protocol: this.options.protocol,
          storeId: this.owner.storeId,
          epoch,
          cursor,
          ...helloDirty(dirty),
        }),
      );
    });
  }

  close(closeCode: TableCloseCode): void {
    if (this.state === 'closed') return;
    this.saveCursorOnClose();
    this.state = 'closed';
    this.owner.ended(this);
    this.transport.close(closeCode.code, closeCode.reason);
  }

  sendControl(message: ControlMessage): void {
    const spoken = forProtocol(message, this.options.protocol);
    if (this.state === 'live' && spoken !== null) this.transport.send(encodeControlFrame(spoken));
  }

  localUpdate(sku: Sku, update: Uint8Array): void {
    if (this.state === 'live' && !this.startingCatchUp && !this.catchingUp.has(sku) && !this.unsent.has(sku)) {
      const ref = this.sent.send(sku, this.options.now());
      this.transport.send(encodeDocFrame(sku, ref, SyncMessageType.Update, update));
    } else {
      this.unsent.add(sku);
    }
  }

  private async handle(bytes: Uint8Array): Promise<void> {
    const frame = decodeHubFrame(bytes);
    if (typeof frame === 'string') {
      this.options.onEvent({ type: 'protocol-error', detail: frame });
      this.close(CloseCode.BadRequest);
      return;
    }
    // An error the hub sent just before closing still explains the close.
    if (this.state === 'closed' && !(frame.kind === 'control' && frame.message.type === 'error')) return;
    if (frame.kind === 'doc') {
      await this.handleDoc(frame);
      return;
    }
    const message = frame.message;
    switch (message.type) {
      case 'welcome':
        await this.handleWelcome(message);
        return;
      case 'ack':
        await this.handleAck(message.ref);
        if (message.change !== undefined) await this.cursor.note(message.change);
        if (message.cursor !== undefined) await this.cursor.advanceTo(message.cursor);
        return;
      case 'error':
        if (message.sku !== undefined) {
          if (message.ref !== undefined) this.sent.refuse(message.ref);
          const error = { code: message.code, detail: message.detail };
          const repeated = this.owner.recordRejected(message.sku, error);
          this.options.onEvent({ type: 'rejected', sku: message.sku, error, repeated });
          // UPDATE_MISSING_DEPENDENCY (class resync): exchange the whole difference again.
          if (recoveryByErrorCode[message.code] === Recovery.Resync) this.resync(message.sku);
        } else {
          this.options.onEvent({ type: 'protocol-error', detail: `hub reports ${message.code}: ${message.detail}` });
        }
        return;
      case 'topup-result':
        this.owner.topUpAnswered(message);
        return;
      case 'release':
        this.options.onRelease(message.sku, message.target, hubMark(message));
        return;
      case 'cursor':
        await this.cursor.advanceTo(message.cursor);
        return;
      case 'available':
        this.owner.availabilityReceived(message);
        return;
      case 'hello':
      case 'topup':
      case 'refused':
      case 'follow':
        this.options.onEvent({ type: 'protocol-error', detail: `unexpected ${message.type} from the hub` });
        this.close(CloseCode.BadRequest);
        return;
    }
  }

  /**
   * Asks the hub for a SKU's difference both ways (a step 1, as the catch-up does),
   * paced per SKU (`ResyncPacer`): the answer's step 1 brings this store's step 2
   * with everything the hub lacks, the refused change included. A change refused
   * for good is refused again, no more often than the pace. (While a step 1 is
   * out, its answer already brings every change this store holds.)
   */
  private resync(sku: string): void {
    const parsed = SkuSchema.safeParse(sku);
    if (!parsed.success) return;
    this.resyncs.ask(sku, () => {
      if (this.state !== 'live' || this.awaitingStep2.has(sku) || this.catchingUp.has(sku)) return;
      this.documents.open(parsed.data).then(
        (doc) => {
          if (this.state === 'live') this.askForDifference(sku, doc);
        },
        (error: unknown) =>
          this.options.onEvent({ type: 'protocol-error', detail: `resync of ${sku}: ${String(error)}` }),
      );
    });
  }

  /**
   * Sends a SKU's step 1 unless one is already out: the hub answers with its step 2
   * (relayed changes of the SKU wait for it) and its own step 1, which brings this
   * store's step 2.
   */
  private askForDifference(sku: string, doc: Y.Doc): void {
    if (this.awaitingStep2.has(sku)) return;
    this.awaitingStep2.add(sku);
    this.transport.send(encodeDocFrame(sku, 0, SyncMessageType.Step1, Y.encodeStateVector(doc)));
  }

  private async handleWelcome(welcome: Welcome): Promise<void> {
    if (this.state !== 'hello' || welcome.protocol !== this.options.protocol) {
      this.close(welcome.protocol !== this.options.protocol ? CloseCode.UnsupportedProtocol : CloseCode.BadRequest);
      return;
    }
    this.welcome = welcome;
    this.owner.hubOverrideCap = welcome.overrideCap;
    this.cursor.welcomed(welcome.cursor);
    this.state = 'live';
    // Until every SKU's catch-up has started, local changes wait in `unsent`: sent
    // now, one could reach the hub before the older changes of its SKU that only
    // the catch-up carries (made while apart), and be refused.
    this.startingCatchUp = true;
    const dirty = await this.documents.dirty();
    if (this.state !== 'live') return;
    this.options.onEvent({ type: 'live', changed: welcome.changed.length, dirty: dirty.length });
    const skus = new Set<string>([...welcome.changed, ...dirty]);
    const started = new Set<string>();
    for (;;) {
      // Changes made while the catch-ups start are caught up the same way.
      for (const sku of this.unsent) skus.add(sku);
      this.unsent.clear();
      const next = [...skus].filter((sku) => !started.has(sku));
      if (next.length === 0) break;
      for (const sku of next) {
        started.add(sku);
        const parsed = SkuSchema.safeParse(sku);
        if (!parsed.success) continue;
        const doc = await this.documents.open(parsed.data);
        if (this.state !== 'live') return;
        this.catchingUp.add(sku);
        this.askForDifference(sku, doc);
      }
    }
    this.startingCatchUp = false;
    await this.checkCaughtUp();
  }

  private async handleDoc(frame: DocFrame): Promise<void> {
    const parsed = SkuSchema.safeParse(frame.sku);
    if (!parsed.success || this.state !== 'live') {
      this.options.onEvent({ type: 'protocol-error', detail: `unexpected doc frame for "${frame.sku.slice(0, 80)}"` });
      return;
    }
    const sku = parsed.data;
    if (frame.type === SyncMessageType.Step1) {
      // The hub asks for what it lacks: this carries the SKU's local changes,
      // so only once they are durable. The encoding below runs in the same tick as
      // the check: no local change can slip in between.
      const doc = await this.documents.open(sku);
      await this.owner.localSettled(sku);
      if (this.state !== 'live' || this.owner.halted !== null) return;
      const ref = this.sent.send(sku, this.options.now(), { catchUp: this.catchingUp.delete(sku) });
      this.unsent.delete(sku);
      this.transport.send(encodeDocFrame(sku, ref, SyncMessageType.Step2, Y.encodeStateAsUpdate(doc, frame.payload)));
      return;
    }
    if (frame.type !== SyncMessageType.Step2 && this.awaitingStep2.has(sku)) {
      // The step 2 on its way already holds this change: the hub applied it before
      // relaying it, and answers the step 1 from its document after that. Applied
      // alone it would show a partial document (a grant without the release it
      // rests on: negative rights in this store's view of another's account).
      if (frame.ref > 0) await this.cursor.note(frame.ref);
      return;
    }
    const doc = await this.documents.applyRemote(sku, frame.payload);
    if (this.state !== 'live') return;
    if (frame.type === SyncMessageType.Step2) this.awaitingStep2.delete(sku);
    else if (frame.ref > 0) await this.cursor.note(frame.ref);
    if (doc.store.pendingStructs !== null || doc.store.pendingDs !== null) {
      // A relayed update builds on something this store never received: ask for the gap.
      this.askForDifference(sku, doc);
      return;
    }
    await this.checkCaughtUp();
  }

  private async handleAck(upTo: number): Promise<void> {
    const { lags, accepted } = this.sent.acknowledge(upTo, this.options.now());
    for (const seconds of lags) this.options.onAcked(seconds);
    // A SKU is clean once the hub accepted the last frame carrying its local
    // changes and nothing newer is waiting; a refused SKU stays dirty.
    const clean: Sku[] = [];
    for (const sku of accepted) {
      this.owner.recordRejected(sku, null);
      if (!this.unsent.has(sku) && !this.catchingUp.has(sku)) clean.push(sku as Sku);
    }
    if (clean.length > 0) await this.documents.markClean(clean);
    await this.checkCaughtUp();
  }

  private async checkCaughtUp(): Promise<void> {
    const welcome = this.welcome;
    if (this.caughtUp || welcome === null || this.state !== 'live') return;
    if (this.awaitingStep2.size > 0 || this.catchingUp.size > 0 || this.sent.catchUpPending) return;
    this.caughtUp = true;
    await this.cursor.caughtUp(welcome.epoch);
    this.options.onEvent({ type: 'caught-up', cursor: this.cursor.current, skus: welcome.changed.length });
    this.owner.sendReports();
  }
}
