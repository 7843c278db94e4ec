import {
  CloseCode,
  Recovery,
  SkuSchema,
  recoveryByErrorCode,
  type Sku,
  type TableCloseCode,
} from '@shelfsync/protocol';
import * as Y from 'yjs';
import {
  HELLO_DIRTY_BYTES,
  MAX_HELLO_DIRTY,
  MAX_SKU_LIST,
  SCHEMA_2_PROTOCOL,
  forProtocol,
  type ControlMessage,
  type Hello,
  type Welcome,
} from './control.js';
import {
  FrameError,
  SyncMessageType,
  decodeFrame,
  encodeControlFrame,
  encodeDocFrame,
  type DocFrame,
} from './frames.js';
import type { Transport } from './transport.js';
import { ResyncPacer } from './resync-pacer.js';
import { ChangeCursor, SentChanges } from './sent-changes.js';
import type { StoreDocuments, StoreSync, StoreSyncOptions } from './store-sync.js';

/**
 * The hello's dirty list, within its bounds: the first SKUs that fit, and the
 * count of all of them when that is not every one (the hub budgets the catch-up
 * on it; every dirty SKU is still synced, from the store's own dirty set).
 */
export function helloDirty(dirty: readonly Sku[]): Pick<Hello, 'dirty' | 'dirtyTotal'> {
  const listed: Sku[] = [];
  let bytes = 0;
  for (const sku of dirty) {
    // As JSON: the quotes and the comma (SKUs need no escaping).
    bytes += sku.length + 3;
    if (listed.length === MAX_HELLO_DIRTY || bytes > HELLO_DIRTY_BYTES) break;
    listed.push(sku);
  }
  if (listed.length === dirty.length) return { dirty: listed };
  return { dirty: listed, dirtyTotal: Math.min(dirty.length, MAX_SKU_LIST) };
}

/** How many changes the cursor may move before it is saved again. */
const CURSOR_SAVE_EVERY = 64;

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
  /** The hub change number up to which this store holds every change, and the ones seen above it. */
  private cursor = new ChangeCursor();
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
    if (this.caughtUp && this.welcome !== null && this.cursor.unsaved > 0) {
      this.documents
        .saveCursor(this.welcome.epoch, this.cursor.save(), this.options.protocol)
        .catch((error: unknown) => {
          this.options.onEvent({ type: 'protocol-error', detail: `saving the cursor failed: ${String(error)}` });
        });
    }
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
        if (message.change !== undefined) await this.noteChange(message.change);
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
      case 'hello':
      case 'topup':
      case 'refused':
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
    this.cursor = new ChangeCursor(welcome.cursor);
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
      if (frame.ref > 0) await this.noteChange(frame.ref);
      return;
    }
    const doc = await this.documents.applyRemote(sku, frame.payload);
    if (this.state !== 'live') return;
    if (frame.type === SyncMessageType.Step2) this.awaitingStep2.delete(sku);
    else if (frame.ref > 0) await this.noteChange(frame.ref);
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

  /**
   * Every change after the welcome reaches this store exactly once: relayed
   * with its number, or, for its own, in the acknowledgement. The cursor moves
   * over the numbers seen without a gap, and is saved once caught up, so the
   * next reconnect exchanges only what changed after it.
   */
  private async noteChange(change: number): Promise<void> {
    if (!this.cursor.note(change) || !this.caughtUp || this.welcome === null) return;
    this.owner.recordSynced(this.cursor.current);
    // Saved every CURSOR_SAVE_EVERY changes, not each one: a cursor that lags
    // after a crash only means a slightly larger catch-up.
    if (this.cursor.unsaved >= CURSOR_SAVE_EVERY)
      await this.documents.saveCursor(this.welcome.epoch, this.cursor.save(), this.options.protocol);
  }

  private async checkCaughtUp(): Promise<void> {
    const welcome = this.welcome;
    if (this.caughtUp || welcome === null || this.state !== 'live') return;
    if (this.awaitingStep2.size > 0 || this.catchingUp.size > 0 || this.sent.catchUpPending) return;
    this.caughtUp = true;
    await this.documents.saveCursor(welcome.epoch, this.cursor.save(), this.options.protocol);
    this.owner.recordSynced(this.cursor.current);
    this.options.onEvent({ type: 'caught-up', cursor: this.cursor.current, skus: welcome.changed.length });
    this.owner.sendReports();
  }
}

/** A frame from the hub, or why it does not decode. */
function decodeHubFrame(bytes: Uint8Array): ReturnType<typeof decodeFrame> | string {
  try {
    return decodeFrame(bytes);
  } catch (error) {
    return error instanceof FrameError ? error.message : String(error);
  }
}

/** The hub changes a release was decided on, when it names them. */
function hubMark(message: {
  client?: number | undefined;
  clock?: number | undefined;
}): { client: number; clock: number } | undefined {
  return message.client === undefined || message.clock === undefined
    ? undefined
    : { client: message.client, clock: message.clock };
}

/**
 * Where a store resumes its catch-up. A cursor kept under a protocol older than
 * SCHEMA_2_PROTOCOL (or before the protocol was kept) counts for nothing once the
 * store reads schema version 2: the hub sent it only version 1's share of each
 * document, and a catch-up from that cursor would never send it the rest. It
 * starts over, as from another epoch: every SKU once, each step 2 bringing what
 * its document lacks.
 */
export function cursorToResume(
  saved: { epoch: string | null; cursor: number; protocol?: number | undefined },
  protocol: number,
): { epoch: string | null; cursor: number } {
  const sharedOnlyVersion1 = saved.protocol === undefined || saved.protocol < SCHEMA_2_PROTOCOL;
  if (protocol >= SCHEMA_2_PROTOCOL && sharedOnlyVersion1) return { epoch: null, cursor: 0 };
  return { epoch: saved.epoch, cursor: saved.cursor };
}
