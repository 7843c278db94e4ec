import { applyOperation, createSkuDoc, type Operation } from '@shelfsync/core';
import { storeWriter, type StoreId } from '@shelfsync/protocol';
import {
  SCHEMA_2_PROTOCOL,
  SyncMessageType,
  decodeFrame,
  encodeControlFrame,
  encodeDocFrame,
  type Frame,
} from '@shelfsync/sync';
import { expect, vi } from 'vitest';
import { WebSocket } from 'ws';
import * as Y from 'yjs';

/**
 * A store speaking the sync protocol by hand over a real socket, so a test can
 * send what an honest store never would. It speaks protocol 6 (a whole
 * replica): `fetchDoc` reads the hub's whole document.
 */
export class RawStoreClient {
  readonly received: Frame[] = [];
  closeCode: number | null = null;

  private constructor(
    readonly storeId: StoreId,
    private readonly socket: WebSocket,
  ) {
    socket.on('message', (data: Buffer) => this.received.push(decodeFrame(new Uint8Array(data))));
    socket.on('close', (code) => {
      this.closeCode = code;
    });
  }

  static async connect(port: number, storeId: StoreId, token: string): Promise<RawStoreClient> {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/v1/sync`, { headers: { Authorization: `Bearer ${token}` } });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const client = new RawStoreClient(storeId, socket);
    client.sendRaw(
      encodeControlFrame({ type: 'hello', protocol: SCHEMA_2_PROTOCOL, storeId, epoch: null, cursor: 0, dirty: [] }),
    );
    await client.waitFor((f) => f.kind === 'control' && f.message.type === 'welcome');
    return client;
  }

  sendRaw(frame: Uint8Array): void {
    this.socket.send(frame, { binary: true });
  }

  /** Fetches the hub's copy of a SKU document into a fresh local doc. */
  async fetchDoc(sku: string): Promise<Y.Doc> {
    const doc = createSkuDoc();
    const seen = this.received.length;
    this.sendRaw(encodeDocFrame(sku, 0, SyncMessageType.Step1, Y.encodeStateVector(doc)));
    const step2 = await this.waitFor(
      (f) => f.kind === 'doc' && f.sku === sku && f.type === SyncMessageType.Step2,
      seen,
    );
    if (step2.kind === 'doc') Y.applyUpdate(doc, step2.payload);
    return doc;
  }

  /** Applies an operation to `doc` as this store and sends the update with reference `ref`. */
  sendOperation(sku: string, doc: Y.Doc, operation: Operation, ref: number): void {
    const updates: Uint8Array[] = [];
    const collect = (u: Uint8Array): void => {
      updates.push(u);
    };
    doc.on('update', collect);
    const result = applyOperation(doc, storeWriter(this.storeId), operation);
    doc.off('update', collect);
    expect(result.ok).toBe(true);
    this.sendRaw(encodeDocFrame(sku, ref, SyncMessageType.Update, Y.mergeUpdates(updates)));
  }

  async waitFor(match: (frame: Frame) => boolean, from = 0): Promise<Frame> {
    let found: Frame | undefined;
    await vi.waitFor(
      () => {
        found = this.received.slice(from).find(match);
        expect(found).toBeDefined();
      },
      { timeout: 10_000, interval: 10 },
    );
    return found as Frame;
  }

  close(): void {
    this.socket.close();
  }
}
