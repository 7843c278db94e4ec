import type { Middleware } from 'koa';
import type { IncomingMessage } from 'node:http';
import type { RequestState } from './http.js';

/** `::ffff:127.0.0.1` and `127.0.0.1` are one address. */
function normalize(address: string): string {
  return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}

/**
 * The client a request comes from. Behind a reverse proxy every connection comes
 * from the proxy's address, so per-client limits would treat all clients as one;
 * for a connection from a trusted proxy, the client is the nearest address in
 * `X-Forwarded-For` that is not itself a trusted proxy (read from the right: the
 * entries to the left of the proxy's own are whatever the client claimed). From
 * anyone else the header is ignored, so it cannot be forged to dodge a limit.
 */
export function clientAddress(
  remote: string,
  forwardedFor: string | readonly string[] | undefined,
  trusted: ReadonlySet<string>,
): string {
  const peer = normalize(remote);
  if (!trusted.has(peer) || forwardedFor === undefined) return peer;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : String(forwardedFor))
    .split(',')
    .map((hop) => normalize(hop.trim()))
    .filter((hop) => hop !== '');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i];
    if (hop !== undefined && !trusted.has(hop)) return hop.slice(0, 64);
  }
  return hops[0]?.slice(0, 64) ?? peer;
}

/** A set of trusted proxy addresses, normalized like `clientAddress` compares them. */
export function trustedProxies(addresses: readonly string[]): ReadonlySet<string> {
  return new Set(addresses.map(normalize));
}

/** The client of an upgrade request (`clientAddress` over its socket and headers). */
export function requestClient(request: IncomingMessage, trusted: ReadonlySet<string>): string {
  return clientAddress(request.socket.remoteAddress ?? 'unknown', request.headers['x-forwarded-for'], trusted);
}

/** Sets `ctx.request.ip` to the client behind a trusted proxy, so rate limits and caps count real clients. */
export function forwardedClients(trusted: ReadonlySet<string>): Middleware<RequestState> {
  return async (ctx, next) => {
    if (trusted.size > 0) ctx.request.ip = requestClient(ctx.req, trusted);
    await next();
  };
}
