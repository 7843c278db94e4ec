import { createServer } from 'node:net';

/**
 * A loopback port the system just handed out, likely with the next few free
 * too (the demo takes its hub's port and the ones after it for its stores and
 * nodes); kept below 65,000 so that room exists.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return port > 65_000 ? port - 1_000 : port;
}
