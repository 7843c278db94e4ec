import { computeStock } from '@shelfsync/core';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { WebSocket } from 'ws';
import { ProcessCluster } from '../src/index.js';
import { cpuMs } from './process-cpu.js';

export interface BenchRow {
  readonly name: string;
  readonly value: string;
  readonly note: string;
}

const INITIAL = 1_000_000;

export interface PropagationLoad {
  readonly stores: number;
  readonly salesPerSecond: number;
  readonly seconds: number;
}

/** Watches one SKU at the hub's read-only y-websocket endpoint; calls back with the value after every change. */
function watch(port: number, sku: string, onValue: (value: number, at: number) => void): Promise<WebSocket> {
  const doc = new Y.Doc();
  const socket = new WebSocket(`ws://127.0.0.1:${port}/yjs/${sku}`);
  socket.on('message', (data: Buffer) => {
    const decoder = decoding.createDecoder(new Uint8Array(data));
    if (decoding.readVarUint(decoder) !== 0) return;
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, 0);
    syncProtocol.readSyncMessage(decoder, encoder, doc, null);
    onValue(computeStock(doc).value, performance.now());
  });
  return new Promise((resolve, reject) => {
    socket.once('open', () => {
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, 0);
      syncProtocol.writeSyncStep1(encoder, doc);
      socket.send(encoding.toUint8Array(encoder));
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/**
 * Store sale -> visible at the hub: real store processes selling at a steady
 * rate, each its own SKU; the time from sending the POS request to the hub's
 * document showing the sale, read at the hub's y-websocket endpoint.
 */
export async function runPropagationBench(load: PropagationLoad): Promise<BenchRow> {
  const { stores: STORES, salesPerSecond: SALES_PER_SECOND, seconds: SECONDS } = load;
  const cluster = new ProcessCluster({
    dir: mkdtempSync(join(tmpdir(), 'shelfsync-bench-')),
    secret: 'bench-secret-0123456789abcdef',
    apiToken: 'bench-api-token-0123456789',
    start: { env: { SHELFSYNC_LOG_LEVEL: 'warn' } },
    // The sync path alone: with the allocator on, sales would also wait on top-ups
    // (measured by `pnpm bench escrow`), mixing two costs in one number.
    hubFlags: ['--escrow', 'off'],
  });
  const sockets: WebSocket[] = [];
  // node:http over kept-alive sockets, not fetch: fetch cost this process about 4 ms of CPU per sale against
  // 1.5 ms, a third of the two cores the stores and the hub share with it.
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  try {
    await cluster.startHub();
    const port = cluster.hubPort;
    const ids = Array.from({ length: STORES }, (_, i) => `s${String(i).padStart(2, '0')}`);
    // A few at a time: twenty processes starting at once on two cores can outlast a start's timeout.
    const stores: Awaited<ReturnType<typeof cluster.startStore>>[] = [];
    for (let i = 0; i < ids.length; i += 4) {
      stores.push(...(await Promise.all(ids.slice(i, i + 4).map((id) => cluster.startStore(id)))));
    }

    const post = (base: string, path: string, body: unknown): Promise<number> =>
      new Promise((resolve, reject) => {
        const data = JSON.stringify(body);
        const url = new URL(`${base}${path}`);
        const req = request(
          {
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(data);
      });
    await Promise.all(stores.map((s, i) => post(s.url, '/v1/receipts', { sku: `P-${i}`, quantity: INITIAL })));

    // Per store: when each sale was sent, and when the hub first showed each value.
    const sent: number[][] = ids.map(() => []);
    const seen = ids.map(() => new Map<number, number>());
    let ready = 0;
    for (const [i] of ids.entries()) {
      let initialSeen = false;
      sockets.push(
        await watch(port, `P-${i}`, (value, at) => {
          if (!initialSeen && value === INITIAL) {
            initialSeen = true;
            ready++;
          }
          const map = seen[i];
          if (map !== undefined && !map.has(value)) map.set(value, at);
        }),
      );
    }
    while (ready < STORES) await new Promise((r) => setTimeout(r, 20));

    // CPU per sale while selling, by side: what caps the rate two cores can carry.
    const cpuOf = (): { hub: number; stores: number; bench: number } => {
      const own = process.cpuUsage();
      return {
        hub: cpuMs(cluster.hub?.child.pid),
        stores: stores.reduce((sum, store) => sum + cpuMs(store.child.pid), 0),
        bench: (own.user + own.system) / 1000,
      };
    };
    const cpuBefore = cpuOf();
    let errors = 0;
    const pending: Promise<unknown>[] = [];
    const timers = stores.map((store, i) =>
      setInterval(() => {
        sent[i]?.push(performance.now());
        pending.push(
          post(store.url, '/v1/sales', { sku: `P-${i}`, quantity: 1 }).then((status) =>
            status === 201 ? 0 : errors++,
          ),
        );
      }, 1000 / SALES_PER_SECOND),
    );
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    for (const t of timers) clearInterval(t);
    await Promise.all(pending);
    const total = sent.reduce((n, s) => n + s.length, 0);
    const cpuAfter = cpuOf();
    const perSale = (side: 'hub' | 'stores' | 'bench'): string =>
      ((cpuAfter[side] - cpuBefore[side]) / Math.max(1, total)).toFixed(1);
    const deadline = performance.now() + 30_000;
    while (performance.now() < deadline && !ids.every((_, i) => seen[i]?.has(INITIAL - (sent[i]?.length ?? 0)))) {
      await new Promise((r) => setTimeout(r, 50));
    }

    const latencies: number[] = [];
    let missing = 0;
    for (const [i, times] of sent.entries()) {
      // The hub shows INITIAL - (k+1) once k+1 sales of this store have landed.
      const firstAt = [...(seen[i] ?? new Map<number, number>())].sort((a, b) => b[0] - a[0]);
      times.forEach((t, k) => {
        const shown = firstAt.find(([value]) => value <= INITIAL - (k + 1));
        if (shown === undefined) missing++;
        else latencies.push(shown[1] - t);
      });
    }
    latencies.sort((a, b) => a - b);
    const offered = STORES * SALES_PER_SECOND * SECONDS;
    return {
      name: `propagation: store sale -> visible at hub (${STORES} stores x ${SALES_PER_SECOND} sales/s, ${SECONDS} s)`,
      value: `p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms`,
      note: `${total.toLocaleString('en-US')} of ${offered.toLocaleString('en-US')} offered sales sent, ${errors} refused, ${missing} not seen; max ${(latencies.at(-1) ?? NaN).toFixed(1)} ms; CPU per sale: stores ${perSale('stores')} ms, hub ${perSale('hub')} ms, load generator and watchers ${perSale('bench')} ms`,
    };
  } finally {
    agent.destroy();
    for (const s of sockets) s.terminate();
    await cluster.stop();
    rmSync(cluster.dir, { recursive: true, force: true });
  }
}
