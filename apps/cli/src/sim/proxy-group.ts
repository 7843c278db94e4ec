import type { Faults, TcpProxy } from '../tcp-proxy.js';

/** What the fault driver does to a store's link to the hub. */
export type LinkProxy = Pick<
  TcpProxy,
  'partition' | 'hold' | 'restore' | 'degrade' | 'flap' | 'stopFlapping' | 'close'
>;

/**
 * A store's links to every hub node of a cluster, one proxy each, faulted as
 * one: a store cut off from "the hub" is cut off from all of its nodes, as a
 * store losing its uplink would be.
 */
export class ProxyGroup implements LinkProxy {
  constructor(readonly proxies: readonly TcpProxy[]) {}

  partition(): void {
    for (const proxy of this.proxies) proxy.partition();
  }

  hold(): void {
    for (const proxy of this.proxies) proxy.hold();
  }

  restore(): void {
    for (const proxy of this.proxies) proxy.restore();
  }

  degrade(faults: Partial<Faults>): void {
    for (const proxy of this.proxies) proxy.degrade(faults);
  }

  flap(upMs: number, downMs: number): void {
    for (const proxy of this.proxies) proxy.flap(upMs, downMs);
  }

  stopFlapping(): void {
    for (const proxy of this.proxies) proxy.stopFlapping();
  }

  async close(): Promise<void> {
    for (const proxy of this.proxies) await proxy.close();
  }
}
