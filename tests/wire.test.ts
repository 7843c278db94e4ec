import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { Cluster, eventually, get, metric, post } from './support/cluster.js';
import { exchange, frame, upgradeRequest } from './support/raw-socket.js';
import { createHash } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';

const portOf = (url: string): number => Number(new URL(url).port);
const closeRequest = (target: string, extra = ''): string =>
  `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n${extra}\r\n`;

/** Metrics text fetched on a connection of its own that closes after the answer. */
async function metricsOf(port: number): Promise<string> {
  const answer = await exchange(port, closeRequest('/metrics'));
  expect(answer.status).toBe(200);
  return answer.text;
}

const errorsOf = (text: string, reason: string): number =>
  metric(text, 'shelfsync_connection_errors_total', { reason }) ?? 0;

describe('no byte sequence ends a hub or a store', () => {
  const cluster = new Cluster({
    escrow: 'off',
    hubFlags: ['--max-event-streams-per-address', '2', '--max-yjs-readers-per-address', '2'],
  });
  let sales = 0;

  beforeAll(async () => {
    await cluster.startHub();
    await cluster.startStore('north');
  }, 60_000);
  afterAll(() => cluster.stop(), 30_000);

  /** Both processes run, answer /healthz, and a sale at the store still reaches the hub. */
  async function stillServing(): Promise<void> {
    expect(cluster.hub?.child.exitCode).toBeNull();
    expect(cluster.stores.get('north')?.child.exitCode).toBeNull();
    expect((await get(cluster.hub?.url ?? '', '/healthz')).status).toBe(200);
    expect((await get(cluster.store('north'), '/healthz')).status).toBe(200);
    sales++;
    const sku = `WIRE-${sales}`;
    expect((await post(cluster.store('north'), '/v1/receipts', { sku, quantity: 5 }, `in-${sku}`)).status).toBe(201);
    expect((await post(cluster.store('north'), '/v1/sales', { sku, quantity: 2 }, `sale-${sku}`)).status).toBe(201);
    await eventually(async () => (await get(cluster.hub?.url ?? '', `/v1/skus/${sku}`)).body, { available: 3 });
  }

  it('a request the HTTP parser refuses, or whose target is no URL, gets a 4xx and a close at hub and store, never a 500', async () => {
    const cases: [string, string, number][] = [
      ['garbage request line', 'GARBAGE\r\n\r\n', 400],
      ['absolute target that is no URL', closeRequest('http://[::1'), 400],
      ['headers over the parser limit', closeRequest('/healthz', `X-Big: ${'a'.repeat(20_000)}\r\n`), 431],
      ['bad percent-encoding in a route parameter', closeRequest('/v1/skus/%E0%A4%A'), 400],
      ['a NUL in the request line', 'GET /\0 HTTP/1.1\r\n\r\n', 400],
    ];
    for (const port of [cluster.hubPort, portOf(cluster.store('north'))]) {
      for (const [name, bytes, status] of cases) {
        const answer = await exchange(port, bytes);
        expect(answer.status, name).toBe(status);
        expect(answer.closed, name).toBe(true);
      }
      const text = await metricsOf(port);
      expect(errorsOf(text, 'bad_request_line')).toBeGreaterThanOrEqual(3);
      expect(errorsOf(text, 'header_too_large')).toBeGreaterThanOrEqual(1);
    }
    await stillServing();
  });

  it('a malformed upgrade gets 400 (401 without a token, 404 elsewhere) and is closed', async () => {
    const token = cluster.token('mallory');
    const cases: [string, string, number][] = [
      ['bad percent-encoding in the SKU', upgradeRequest('/yjs/%E0%A4%A'), 400],
      ['target that is no URL', upgradeRequest('http://[::1'), 400],
      ['a path that is no SKU', upgradeRequest('/yjs/not%20a%20sku'), 400],
      ['no Sec-WebSocket-Key', upgradeRequest('/yjs/WIRE-0', { 'Sec-WebSocket-Key': null }), 400],
      ['an invalid key', upgradeRequest('/yjs/WIRE-0', { 'Sec-WebSocket-Key': 'short' }), 400],
      ['an unknown version', upgradeRequest('/yjs/WIRE-0', { 'Sec-WebSocket-Version': '99' }), 400],
      ['a bad subprotocol header', upgradeRequest('/yjs/WIRE-0', { 'Sec-WebSocket-Protocol': ',,' }), 400],
      [
        'an authenticated sync upgrade without a key',
        upgradeRequest('/v1/sync', {
          Authorization: `Bearer ${token}`,
          'Sec-WebSocket-Key': null,
        }),
        400,
      ],
      ['a sync upgrade without a token', upgradeRequest('/v1/sync'), 401],
      ['an unknown path', upgradeRequest('/nowhere'), 404],
    ];
    for (const [name, bytes, status] of cases) {
      const answer = await exchange(cluster.hubPort, bytes);
      expect(answer.status, name).toBe(status);
      expect(answer.closed, name).toBe(true);
    }
    expect(errorsOf(await metricsOf(cluster.hubPort), 'bad_upgrade')).toBeGreaterThanOrEqual(8);
    await stillServing();
  });

  const violations: [string, Buffer, number, string][] = [
    ['a text frame that is not UTF-8', frame(0x1, Buffer.from([0xff, 0xfe, 0xfd])), 1007, 'invalid_utf8'],
    ['a reserved opcode', frame(0x3), 1002, 'bad_opcode'],
    [
      'a message over the payload limit',
      frame(0x2, Buffer.alloc(0), { declaredLength: 16 * 1024 * 1024 }),
      1009,
      'payload_too_large',
    ],
    ['a reserved bit set', frame(0x2, Buffer.from([0]), { rsv: 0x4 }), 1002, 'protocol_error'],
    ['an unmasked client frame', frame(0x2, Buffer.from([0]), { masked: false }), 1002, 'protocol_error'],
  ];

  it.each([
    ['a document reader', () => upgradeRequest('/yjs/WIRE-0')],
    ['a store session', () => upgradeRequest('/v1/sync', { Authorization: `Bearer ${cluster.token('mallory')}` })],
  ])('a WebSocket frame ws refuses on %s closes that connection with the standard code', async (_, request) => {
    const before = await metricsOf(cluster.hubPort);
    for (const [name, bytes, code] of violations) {
      const answer = await exchange(cluster.hubPort, request(), [bytes]);
      expect(answer.status, name).toBe(101);
      expect(answer.closeCode, name).toBe(code);
    }
    const after = await metricsOf(cluster.hubPort);
    for (const reason of ['invalid_utf8', 'bad_opcode', 'payload_too_large', 'protocol_error']) {
      expect(errorsOf(after, reason) - errorsOf(before, reason), reason).toBeGreaterThanOrEqual(1);
    }
    await stillServing();
  });

  it('the event streams an address may hold are capped: the next one gets 429 TOO_MANY_CONNECTIONS', async () => {
    const hub = cluster.hub?.url ?? '';
    const controllers = [new AbortController(), new AbortController()];
    const open = await Promise.all(controllers.map((c) => fetch(`${hub}/v1/events`, { signal: c.signal })));
    expect(open.map((r) => r.status)).toEqual([200, 200]);
    const refused = await fetch(`${hub}/v1/events`);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(await refused.json()).toMatchObject({ code: 'TOO_MANY_CONNECTIONS', status: 429 });
    const text = await metricsOf(cluster.hubPort);
    expect(metric(text, 'shelfsync_connections_refused_total', { pool: 'event_streams' })).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'shelfsync_connections_open', { pool: 'event_streams' })).toBe(2);
    // A closed stream frees its slot.
    controllers[0]?.abort();
    await vi.waitFor(
      async () =>
        expect(metric(await metricsOf(cluster.hubPort), 'shelfsync_connections_open', { pool: 'event_streams' })).toBe(
          1,
        ),
      { timeout: 10_000, interval: 50 },
    );
    const again = new AbortController();
    expect((await fetch(`${hub}/v1/events`, { signal: again.signal })).status).toBe(200);
    again.abort();
    controllers[1]?.abort();
  });

  it('the Yjs readers an address may hold are capped: the next one is closed with 1013 try again later', async () => {
    const url = `ws://127.0.0.1:${cluster.hubPort}/yjs/WIRE-1`;
    const readers = [new WebSocket(url), new WebSocket(url)];
    await Promise.all(readers.map((r) => new Promise((resolve) => r.once('message', resolve))));
    const third = new WebSocket(url);
    const code = await new Promise<number>((resolve) => third.once('close', resolve));
    expect(code).toBe(1013);
    expect(
      metric(await metricsOf(cluster.hubPort), 'shelfsync_connections_refused_total', { pool: 'yjs_readers' }),
    ).toBeGreaterThanOrEqual(1);
    for (const reader of readers) reader.close();
    // Closed readers free their slots.
    await vi.waitFor(
      async () =>
        expect(metric(await metricsOf(cluster.hubPort), 'shelfsync_connections_open', { pool: 'yjs_readers' })).toBe(0),
      { timeout: 10_000, interval: 50 },
    );
    await stillServing();
  });

  it('a Yjs reader that keeps writing to the read-only document is closed with 4422', async () => {
    const reader = new WebSocket(`ws://127.0.0.1:${cluster.hubPort}/yjs/WIRE-1`);
    await new Promise((resolve) => reader.once('message', resolve));
    const closed = new Promise<number>((resolve) => reader.once('close', resolve));
    // y-websocket sync message, update, carrying an empty Yjs update.
    const update = Buffer.from([0, 2, 2, 0, 0]);
    for (let i = 0; i < 21; i++) reader.send(update);
    expect(await closed).toBe(4422);
    await stillServing();
  });
});

/**
 * A hub impostor on raw TCP: it completes each WebSocket handshake, then sends
 * the next of `frames` (a framing violation) on that connection.
 */
async function fakeHub(frames: readonly Buffer[]): Promise<{ port: number; connections: () => number; close(): void }> {
  let connections = 0;
  const server = createServer((socket) => {
    const violation = frames[connections % frames.length] ?? Buffer.alloc(0);
    connections++;
    let head = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1];
      if (!head.includes('\r\n\r\n') || key === undefined) return;
      head = '';
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      socket.write(violation);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    connections: () => connections,
    close: () => {
      server.close();
    },
  };
}

describe('a hub that breaks the WebSocket protocol does not end a store', () => {
  const cluster = new Cluster({ escrow: 'off' });

  beforeAll(async () => {
    await cluster.startHub();
  }, 60_000);
  afterAll(() => cluster.stop(), 30_000);

  it('each framing violation from the hub closes the link; the store reconnects and keeps selling', async () => {
    // A replica that finished its first sync sells offline; then it is pointed at the impostor.
    await cluster.startStore('west');
    expect((await post(cluster.store('west'), '/v1/receipts', { sku: 'IMP-1', quantity: 9 }, 'imp-in')).status).toBe(
      201,
    );
    await eventually(async () => (await get(cluster.hub?.url ?? '', '/v1/skus/IMP-1')).body, { available: 9 });
    await cluster.stores.get('west')?.stop();
    // Server frames go unmasked; each of these a client must refuse: a reserved opcode,
    // a text frame not UTF-8, a 256 MiB message announced, a reserved bit, a masked frame.
    const violations = [
      Buffer.from([0x83, 0x00]),
      Buffer.from([0x81, 0x02, 0xff, 0xfe]),
      Buffer.concat([Buffer.from([0x82, 0x7f]), Buffer.from([0, 0, 0, 0, 0x10, 0, 0, 0])]),
      Buffer.from([0xc2, 0x01, 0x00]),
      frame(0x2, Buffer.from([0])),
    ];
    const impostor = await fakeHub(violations);
    try {
      await cluster.startStore('west', { hubPort: impostor.port });
      await vi.waitFor(() => expect(impostor.connections()).toBeGreaterThan(violations.length), {
        timeout: 30_000,
        interval: 50,
      });
      expect(cluster.stores.get('west')?.child.exitCode).toBeNull();
      expect((await get(cluster.store('west'), '/healthz')).status).toBe(200);
      expect((await post(cluster.store('west'), '/v1/sales', { sku: 'IMP-1', quantity: 2 }, 'imp-sale')).status).toBe(
        201,
      );
    } finally {
      impostor.close();
    }
  });
});

describe('connections before authentication are capped per address', () => {
  // Five: four idle sockets and the metrics request that counts them.
  const cluster = new Cluster({ escrow: 'off', hubFlags: ['--max-connections-per-address', '5'] });
  const idle: Socket[] = [];

  beforeAll(async () => {
    await cluster.startHub();
    await cluster.startStore('east');
  }, 60_000);
  afterAll(async () => {
    for (const socket of idle) socket.destroy();
    await cluster.stop();
  }, 30_000);

  const openIdle = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const socket = connect(cluster.hubPort, '127.0.0.1', () => resolve(socket));
      socket.once('error', reject);
      idle.push(socket);
    });
  const unauthenticated = async (): Promise<number | undefined> =>
    metric(await metricsOf(cluster.hubPort), 'shelfsync_connections_open', { pool: 'unauthenticated' });

  it('an authenticated store does not count; past the cap a connection gets 429 and a close', async () => {
    await eventually(async () => (await get(cluster.hub?.url ?? '', '/v1/stores')).body, {
      stores: [{ storeId: 'east', connected: true }],
    });
    for (let i = 0; i < 4; i++) await openIdle();
    // The store's session is open too: were it counted, this request would be the sixth.
    await vi.waitFor(async () => expect(await unauthenticated()).toBe(5), { timeout: 10_000, interval: 50 });
    await openIdle();
    const refused = await exchange(cluster.hubPort, closeRequest('/healthz'));
    expect(refused).toMatchObject({ status: 429, closed: true });
    expect(refused.text).toContain('Retry-After: 5');

    for (const socket of idle.splice(0)) socket.destroy();
    await vi.waitFor(async () => expect((await exchange(cluster.hubPort, closeRequest('/healthz'))).status).toBe(200), {
      timeout: 10_000,
      interval: 50,
    });
    const text = await metricsOf(cluster.hubPort);
    expect(metric(text, 'shelfsync_connections_refused_total', { pool: 'unauthenticated' })).toBeGreaterThanOrEqual(1);
    expect((await post(cluster.store('east'), '/v1/receipts', { sku: 'CAP-1', quantity: 4 }, 'cap-in')).status).toBe(
      201,
    );
    await eventually(async () => (await get(cluster.hub?.url ?? '', '/v1/skus/CAP-1')).body, { available: 4 });
  });
});
