import type { AddressSlots, PeerLogLimiter } from '@shelfsync/edge';
import { CloseCode, SkuSchema, type Sku, type TableCloseCode } from '@shelfsync/protocol';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import type { WebSocket } from 'ws';
import type { PinnedDoc } from '@shelfsync/sync';
import type * as Y from 'yjs';

/** The path prefix of the y-websocket compatible, read-only document endpoint. */
export const YJS_PATH_PREFIX = '/yjs/';

// y-websocket's message types; only sync matters to a read-only peer.
const MESSAGE_SYNC = 0;
const MESSAGE_AWARENESS = 1;
const MESSAGE_QUERY_AWARENESS = 3;

/** What the endpoint needs to know of durability: nothing leaves the hub before it is on disk. */
export interface DurableCommits {
  /** Runs `read` while none of the hub's own writes of `sku` is in flight; rejects after a storage failure. */
  readDurable<T>(sku: Sku, read: () => T): Promise<T>;
  /** Calls `listener` after every durable commit, with its update; returns the unsubscribe. */
  onCommit(listener: (sku: Sku, change: unknown, update: Uint8Array) => void): () => void;
}

/**
 * Serves each SKU document at `/yjs/<sku>` in y-websocket's wire format, read
 * only: a stock `y-websocket` WebsocketProvider syncs the document and then
 * receives every change live; anything it tries to write is ignored. Like the
 * stores, readers get only what is durable: changes once committed, and state
 * answers while none of the hub's own writes of the SKU is in flight.
 */
export class YjsReadEndpoint {
  private readonly subscribers = new Map<Sku, { pinned: PinnedDoc; sockets: Set<WebSocket> }>();
  private readonly stopListening: () => void;
  private halted = false;

  /**
   * `pin` keeps a document in memory while it has readers: they are answered from
   * that very instance. `slots` caps readers per address and in total; `log`
   * limits what each peer can make the endpoint log.
   */
  constructor(
    private readonly pin: (sku: Sku) => Promise<PinnedDoc>,
    private readonly log: PeerLogLimiter,
    private readonly commits: DurableCommits,
    private readonly slots: AddressSlots | null = null,
  ) {
    this.stopListening = commits.onCommit((sku, _change, update) => {
      const entry = this.subscribers.get(sku);
      if (entry === undefined) return;
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MESSAGE_SYNC);
      syncProtocol.writeUpdate(encoder, update);
      const message = encoding.toUint8Array(encoder);
      for (const socket of entry.sockets) send(socket, message);
    });
  }

  /** The SKU a request path names, or null if it is not one of ours (or not a SKU, or not percent-decodable). */
  static skuOf(pathname: string): Sku | null {
    if (!pathname.startsWith(YJS_PATH_PREFIX)) return null;
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname.slice(YJS_PATH_PREFIX.length));
    } catch {
      return null;
    }
    const parsed = SkuSchema.safeParse(decoded);
    return parsed.success ? parsed.data : null;
  }

  /**
   * Takes a new connection from `peer` (its address). Messages are queued from the
   * first moment, so none is lost while the document loads; the queue never
   * rejects, whatever the reader sends or the storage does.
   */
  accept(sku: Sku, socket: WebSocket, peer = 'unknown'): void {
    if (this.halted) {
      closeWith(socket, CloseCode.ServerError);
      return;
    }
    const slot = this.slots?.acquire(peer) ?? null;
    if (this.slots !== null && slot === null) {
      this.log.warn(peer, { sku }, 'yjs reader refused: reader cap reached');
      closeWith(socket, CloseCode.TryAgainLater);
      return;
    }
    socket.on('close', () => {
      slot?.release();
      this.unsubscribe(sku, socket);
    });
    let ready: Promise<Y.Doc | null> = this.pin(sku).then(
      (pinned) => {
        const doc = this.subscribe(sku, pinned, socket);
        const encoder = encoding.createEncoder();
        encoding.writeVarUint(encoder, MESSAGE_SYNC);
        syncProtocol.writeSyncStep1(encoder, doc);
        send(socket, encoding.toUint8Array(encoder));
        return doc;
      },
      (error: unknown) => {
        this.log.error(peer, { err: error, sku }, 'yjs endpoint failed to open a document');
        closeWith(socket, CloseCode.ServerError);
        return null;
      },
    );
    // A reader is bounded like a store: messages waiting for an answer, and writes refused.
    let pending = 0;
    let refusedWrites = 0;
    socket.on('message', (data: Buffer) => {
      if (++pending > MAX_PENDING_MESSAGES) {
        this.log.warn(peer, { sku }, 'yjs reader closed: too many messages waiting');
        closeWith(socket, CloseCode.TryAgainLater);
        return;
      }
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      ready = ready.then(async (doc) => {
        pending--;
        if (doc === null || socket.readyState !== socket.OPEN) return doc;
        try {
          if (
            (await this.handle(sku, doc, socket, bytes)) === 'refused-write' &&
            ++refusedWrites > MAX_REFUSED_WRITES
          ) {
            this.log.warn(peer, { sku }, 'yjs reader closed: it keeps writing to a read-only document');
            closeWith(socket, CloseCode.TooManyInvalidUpdates);
          }
        } catch (error) {
          this.log.error(peer, { err: error, sku }, 'yjs endpoint failed to answer a reader');
          closeWith(socket, CloseCode.ServerError);
        }
        return doc;
      });
    });
  }

  /** Closes every connection. */
  close(): void {
    this.stopListening();
    for (const { sockets } of this.subscribers.values()) for (const socket of sockets) socket.terminate();
  }

  /** Closes every connection and refuses new ones: the hub's storage failed. */
  halt(): void {
    this.halted = true;
    this.close();
  }

  /** Answers one reader message; says when it was a write, which this endpoint refuses. */
  private async handle(sku: Sku, doc: Y.Doc, socket: WebSocket, bytes: Uint8Array): Promise<'refused-write' | 'ok'> {
    let step1: Uint8Array | null = null;
    try {
      const decoder = decoding.createDecoder(bytes);
      const type = decoding.readVarUint(decoder);
      if (type !== MESSAGE_SYNC) {
        if (type !== MESSAGE_AWARENESS && type !== MESSAGE_QUERY_AWARENESS) closeWith(socket, CloseCode.BadRequest);
        return 'ok';
      }
      const kind = decoding.readVarUint(decoder);
      if (kind === syncProtocol.messageYjsSyncStep1) step1 = decoding.readVarUint8Array(decoder);
      // Step 2 and updates from a reader are ignored: this endpoint is read only. A step 2
      // answers the hub's step 1 once per connection; an update is a write.
      else if (kind === syncProtocol.messageYjsUpdate) return 'refused-write';
    } catch {
      closeWith(socket, CloseCode.BadRequest);
      return 'ok';
    }
    if (step1 === null) return 'ok';
    const stateVector = step1;
    let answer: Uint8Array | null;
    try {
      answer = await this.commits.readDurable(sku, () => {
        try {
          const encoder = encoding.createEncoder();
          encoding.writeVarUint(encoder, MESSAGE_SYNC);
          syncProtocol.writeSyncStep2(encoder, doc, stateVector);
          return encoding.toUint8Array(encoder);
        } catch {
          return null;
        }
      });
    } catch {
      closeWith(socket, CloseCode.ServerError);
      return 'ok';
    }
    if (answer === null) closeWith(socket, CloseCode.BadRequest);
    else send(socket, answer);
    return 'ok';
  }

  /** Adds a reader of `sku`; returns the document it reads (one pin per SKU is kept, extra ones released). */
  private subscribe(sku: Sku, pinned: PinnedDoc, socket: WebSocket): Y.Doc {
    // A reader gone while its document loaded must not keep it pinned.
    if (socket.readyState !== socket.OPEN) {
      pinned.release();
      return pinned.doc;
    }
    let entry = this.subscribers.get(sku);
    if (entry !== undefined) pinned.release();
    else {
      entry = { pinned, sockets: new Set<WebSocket>() };
      this.subscribers.set(sku, entry);
    }
    entry.sockets.add(socket);
    return entry.pinned.doc;
  }

  private unsubscribe(sku: Sku, socket: WebSocket): void {
    const entry = this.subscribers.get(sku);
    if (entry === undefined) return;
    entry.sockets.delete(socket);
    if (entry.sockets.size === 0) {
      entry.pinned.release();
      this.subscribers.delete(sku);
    }
  }
}

// Readers are best effort: a reader that falls this far behind is dropped and can reconnect.
const MAX_READER_BUFFER = 4 * 1024 * 1024;
/** Messages of one reader waiting for an answer; past it the reader is closed (1013). */
const MAX_PENDING_MESSAGES = 64;
/** Updates a reader may send before it is closed (4422): the endpoint is read only. */
const MAX_REFUSED_WRITES = 20;

function send(socket: WebSocket, message: Uint8Array): void {
  if (socket.readyState !== socket.OPEN) return;
  if (socket.bufferedAmount > MAX_READER_BUFFER) {
    closeWith(socket, CloseCode.SlowConsumer);
    return;
  }
  socket.send(message, { binary: true });
}

function closeWith(socket: WebSocket, close: TableCloseCode): void {
  socket.close(close.code, close.reason);
}
