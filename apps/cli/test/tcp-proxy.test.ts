import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TcpProxy } from '../src/tcp-proxy.js';

/** An echo server on loopback: the other end of every proxied connection. */
let echo: Server;
let echoPort = 0;

beforeAll(async () => {
  echo = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  const address = echo.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  echoPort = address.port;
});
afterAll(() => new Promise<void>((resolve) => echo.close(() => resolve())));

async function open(
  port: number,
): Promise<{ socket: Socket; received: () => Buffer; closed: () => boolean; firstDataAt: () => number }> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  let closed = false;
  let firstDataAt = Number.NaN;
  socket.on('data', (chunk: Buffer) => {
    if (chunks.length === 0) firstDataAt = performance.now();
    chunks.push(chunk);
  });
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => Buffer.concat(chunks), closed: () => closed, firstDataAt: () => firstDataAt };
}

describe('TCP fault proxy', () => {
  it('forwards both ways', async () => {
    const proxy = await TcpProxy.start(echoPort);
    const c = await open(proxy.port);
    c.socket.write('ping');
    await vi.waitFor(() => expect(c.received().toString()).toBe('ping'));
    expect(proxy.status).toMatchObject({ state: 'up', connections: 1 });
    c.socket.destroy();
    await proxy.close();
  });

  it('hold keeps the connection open and moves nothing until restore', async () => {
    const proxy = await TcpProxy.start(echoPort);
    const c = await open(proxy.port);
    proxy.hold();
    c.socket.write('held');
    // Restored by a timer: whenever the echo arrives, it must be after the restore.
    let restoredAt = Number.POSITIVE_INFINITY;
    setTimeout(() => {
      restoredAt = performance.now();
      proxy.restore();
    }, 100);
    await vi.waitFor(() => expect(c.received().toString()).toBe('held'));
    expect(c.firstDataAt()).toBeGreaterThanOrEqual(restoredAt);
    expect(c.closed()).toBe(false);
    c.socket.destroy();
    await proxy.close();
  });

  it('a reset partition drops connections and refuses new ones until restore', async () => {
    const proxy = await TcpProxy.start(echoPort);
    const c = await open(proxy.port);
    proxy.partition();
    await vi.waitFor(() => expect(c.closed()).toBe(true));
    const refused = await open(proxy.port);
    await vi.waitFor(() => expect(refused.closed()).toBe(true));
    proxy.restore();
    const again = await open(proxy.port);
    again.socket.write('back');
    await vi.waitFor(() => expect(again.received().toString()).toBe('back'));
    again.socket.destroy();
    await proxy.close();
  });

  it('latency and bandwidth slow traffic down by at least what they say, in order', async () => {
    const proxy = await TcpProxy.start(echoPort);
    const c = await open(proxy.port);
    proxy.degrade({ latencyMs: 60, jitterMs: 20 });
    let started = performance.now();
    for (let i = 0; i < 5; i++) c.socket.write(String(i));
    await vi.waitFor(() => expect(c.received().toString()).toBe('01234'));
    // Both directions are delayed.
    expect(performance.now() - started).toBeGreaterThanOrEqual(120);

    proxy.degrade({ latencyMs: 0, jitterMs: 0, bandwidth: 10_000 });
    const before = c.received().byteLength;
    started = performance.now();
    c.socket.write(Buffer.alloc(2_000, 1));
    await vi.waitFor(() => expect(c.received().byteLength).toBe(before + 2_000), { timeout: 5_000 });
    // 2,000 bytes at 10,000 B/s, each way.
    expect(performance.now() - started).toBeGreaterThanOrEqual(380);
    c.socket.destroy();
    await proxy.close();
  });

  it('flapping alternates resets and service', async () => {
    const proxy = await TcpProxy.start(echoPort);
    proxy.flap(80, 80);
    await vi.waitFor(
      async () => {
        const c = await open(proxy.port);
        c.socket.write('x');
        await vi.waitFor(() => expect(c.received().toString()).toBe('x'), { timeout: 60 });
        c.socket.destroy();
      },
      { timeout: 5_000, interval: 10 },
    );
    const c = await open(proxy.port).catch(() => null);
    if (c !== null) await vi.waitFor(() => expect(c.closed()).toBe(true), { timeout: 2_000 });
    proxy.stopFlapping();
    await proxy.close();
  });
});

describe('TCP fault proxy under abuse', () => {
  it('a client that resets mid-stream, or an upstream that is gone, ends that link only', async () => {
    const proxy = await TcpProxy.start(echoPort);
    try {
      const rude = await open(proxy.port);
      rude.socket.write(Buffer.alloc(64 * 1024, 0xff));
      rude.socket.resetAndDestroy();
      // A proxy to a port where nothing listens: the upstream fails at once, the client is closed.
      const nowhere = await TcpProxy.start(1);
      const orphan = await open(nowhere.port);
      await vi.waitFor(() => expect(orphan.closed()).toBe(true), { timeout: 5_000, interval: 10 });
      await nowhere.close();

      await vi.waitFor(() => expect(proxy.status.connections).toBe(0), { timeout: 5_000, interval: 10 });
      const polite = await open(proxy.port);
      polite.socket.write('still here');
      await vi.waitFor(() => expect(polite.received().toString()).toBe('still here'), { timeout: 5_000, interval: 10 });
      polite.socket.destroy();
    } finally {
      await proxy.close();
    }
  });
});
