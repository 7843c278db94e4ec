import type { Logger } from '@shelfsync/edge';
import { SkuSchema, type Sku } from '@shelfsync/protocol';
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

  /** `pin` keeps a document in memory while it has readers: they are answered from that very instance. */
  constructor(
    private readonly pin: (sku: Sku) => Promise<PinnedDoc>,
    private readonly log: Logger,
    private readonly commits: DurableCommits,
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

  /** The SKU a request path names, or null if it is not one of ours. */
  static skuOf(pathname: string): Sku | null {
    if (!pathname.startsWith(YJS_PATH_PREFIX)) return null;
    const parsed = SkuSchema.safeParse(decodeURIComponent(pathname.slice(YJS_PATH_PREFIX.length)));
    return parsed.success ? parsed.data : null;
  }

  /** Takes a new connection. Messages are queued from the first moment, so none is lost while the document loads. */
  accept(sku: Sku, socket: WebSocket): void {
    if (this.halted) {
      socket.close(1011, 'internal error');
      return;
    }
    let ready: Promise<Y.Doc> = this.pin(sku).then((pinned) => {
      const doc = this.subscribe(sku, pinned, socket);
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MESSAGE_SYNC);
      syncProtocol.writeSyncStep1(encoder, doc);
      send(socket, encoding.toUint8Array(encoder));
      return doc;
    });
    socket.on('message', (data: Buffer) => {
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      ready = ready.then(async (doc) => {
        await this.handle(sku, doc, socket, bytes);
        return doc;
      });
    });
    socket.on('close', () => this.unsubscribe(sku, socket));
    ready.catch((error: unknown) => {
      this.log.error({ err: error, sku }, 'yjs endpoint failed to open a document');
      socket.close(1011, 'internal error');
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

  private async handle(sku: Sku, doc: Y.Doc, socket: WebSocket, bytes: Uint8Array): Promise<void> {
    let step1: Uint8Array | null = null;
    try {
      const decoder = decoding.createDecoder(bytes);
      const type = decoding.readVarUint(decoder);
      if (type !== MESSAGE_SYNC) {
        if (type !== MESSAGE_AWARENESS && type !== MESSAGE_QUERY_AWARENESS) socket.close(4400, 'bad request');
        return;
      }
      if (decoding.readVarUint(decoder) === syncProtocol.messageYjsSyncStep1) {
        step1 = decoding.readVarUint8Array(decoder);
      }
      // Step 2 and updates from a reader are ignored: this endpoint is read only.
    } catch {
      socket.close(4400, 'bad request');
      return;
    }
    if (step1 === null) return;
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
      socket.close(1011, 'internal error');
      return;
    }
    if (answer === null) socket.close(4400, 'bad request');
    else send(socket, answer);
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

function send(socket: WebSocket, message: Uint8Array): void {
  if (socket.readyState !== socket.OPEN) return;
  if (socket.bufferedAmount > MAX_READER_BUFFER) {
    socket.close(4429, 'slow consumer');
    return;
  }
  socket.send(message, { binary: true });
}
