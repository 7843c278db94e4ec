import { computeStock } from '@shelfsync/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { Cluster, get, post } from './support/cluster.js';

describe('y-websocket compatible read endpoint', () => {
  const cluster = new Cluster();
  beforeAll(async () => {
    await cluster.startHub();
    await cluster.startStore('east');
  }, 60_000);
  afterAll(() => cluster.stop(), 30_000);

  it('a stock y-websocket client reads the SKU document, computes the hub’s number, and sees changes live', async () => {
    const east = cluster.store('east');
    await post(east, '/v1/receipts', { sku: 'BOOK-1', quantity: 9 }, 'book-in');
    await vi.waitFor(
      async () => expect((await get(cluster.hub?.url ?? '', '/v1/skus/BOOK-1')).body).toMatchObject({ available: 9 }),
      {
        timeout: 15_000,
      },
    );

    const doc = new Y.Doc();
    const provider = new WebsocketProvider(`ws://127.0.0.1:${cluster.hubPort}/yjs`, 'BOOK-1', doc, {
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
      disableBc: true,
    });
    try {
      await vi.waitFor(() => expect(provider.synced).toBe(true), { timeout: 15_000 });
      const hubView = (await get(cluster.hub?.url ?? '', '/v1/skus/BOOK-1')).body;
      expect(computeStock(doc).value).toBe(hubView.available);

      await post(east, '/v1/sales', { sku: 'BOOK-1', quantity: 4 }, 'book-sale');
      await vi.waitFor(() => expect(computeStock(doc).value).toBe(5), { timeout: 15_000 });

      // The endpoint is read only: a reader's own write never reaches the hub. A
      // later real sale is the marker: once the hub shows it, the write had its chance.
      doc
        .getMap('ledger')
        .set('store:intruder', { 'store:intruder': { p: 1000, n: 0, t: {}, reserved: 0, settled: 0 } });
      await post(east, '/v1/sales', { sku: 'BOOK-1', quantity: 1 }, 'book-sale-2');
      await vi.waitFor(
        async () => expect((await get(cluster.hub?.url ?? '', '/v1/skus/BOOK-1')).body).toMatchObject({ available: 4 }),
        {
          timeout: 15_000,
        },
      );
    } finally {
      provider.destroy();
    }
  }, 60_000);
});
