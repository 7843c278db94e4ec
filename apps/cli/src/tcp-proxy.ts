import { createServer, connect, type Server, type Socket } from 'node:net';

/** What the proxy does to traffic right now. */
export interface Faults {
  /** Added one-way delay per chunk, in ms. */
  readonly latencyMs: number;
  /** Up to this much more, drawn per chunk (order is kept). */
  readonly jitterMs: number;
  /** Bytes per second per direction and connection; 0: unlimited. */
  readonly bandwidth: number;
}

const NONE: Faults = { latencyMs: 0, jitterMs: 0, bandwidth: 0 };

/**
 * A TCP fault proxy on loopback between a store and the hub, in the spirit of
 * Toxiproxy: both processes keep running while the test or the operator cuts the
 * link (held: connections stay open, no byte moves), resets it (every
 * connection dropped, new ones refused), adds latency with jitter, limits
 * bandwidth, or flaps it.
 */
export class TcpProxy {
  private readonly links = new Set<{ client: Socket; upstream: Socket }>();
  private state: 'up' | 'held' | 'reset' = 'up';
  private faults: Faults = NONE;
  private flapping: ReturnType<typeof setTimeout> | null = null;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly random: () => number,
  ) {}

  static async start(targetPort: number, random: () => number = Math.random, port = 0): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const proxy = new TcpProxy(server, address.port, random);
    server.on('connection', (client) => proxy.accept(client, targetPort));
    // Accepting can fail (too many open files); the proxy keeps serving the links it has.
    server.on('error', () => undefined);
    return proxy;
  }

  /** Drops every connection and refuses new ones until `restore` (a reset partition). */
  partition(): void {
    this.state = 'reset';
    for (const { client, upstream } of this.links) {
      client.destroy();
      upstream.destroy();
    }
    this.links.clear();
  }

  /** Keeps connections open but moves no byte until `restore` (a silent partition: no error, just nothing). */
  hold(): void {
    this.state = 'held';
    for (const { client, upstream } of this.links) {
      client.pause();
      upstream.pause();
    }
  }

  /** Ends a partition or a hold; faults set with `degrade` stay. */
  restore(): void {
    this.state = 'up';
    for (const { client, upstream } of this.links) {
      client.resume();
      upstream.resume();
    }
  }

  /** Sets latency, jitter and bandwidth for traffic from now on. */
  degrade(faults: Partial<Faults>): void {
    this.faults = { ...this.faults, ...faults };
  }

  /** Alternates up (`upMs`) and reset (`downMs`) until `stopFlapping`. */
  flap(upMs: number, downMs: number): void {
    this.stopFlapping();
    const cycle = (up: boolean): void => {
      if (up) this.restore();
      else this.partition();
      this.flapping = setTimeout(() => cycle(!up), up ? upMs : downMs);
    };
    cycle(false);
  }

  stopFlapping(): void {
    if (this.flapping !== null) clearTimeout(this.flapping);
    this.flapping = null;
  }

  get status(): { state: 'up' | 'held' | 'reset'; connections: number } & Faults {
    return { state: this.state, connections: this.links.size, ...this.faults };
  }

  async close(): Promise<void> {
    this.stopFlapping();
    this.partition();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, targetPort: number): void {
    // Whatever either side sends or does, an error ends that link only.
    client.on('error', () => client.destroy());
    if (this.state === 'reset') {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    const link = { client, upstream };
    this.links.add(link);
    const end = (): void => {
      this.links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', end);
      socket.on('close', end);
    }
    this.forward(client, upstream);
    this.forward(upstream, client);
    if (this.state === 'held') {
      client.pause();
      upstream.pause();
    }
  }

  /** Copies `from` to `to`, delaying each chunk by the current faults, in order. */
  private forward(from: Socket, to: Socket): void {
    let lastAt = 0;
    from.on('data', (chunk: Buffer) => {
      const { latencyMs, jitterMs, bandwidth } = this.faults;
      if (latencyMs === 0 && jitterMs === 0 && bandwidth === 0 && lastAt <= performance.now()) {
        to.write(chunk);
        return;
      }
      const now = performance.now();
      const transfer = bandwidth > 0 ? (chunk.byteLength / bandwidth) * 1000 : 0;
      const at = Math.max(now + latencyMs + jitterMs * this.random(), lastAt) + transfer;
      lastAt = at;
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, at - now);
    });
  }
}
