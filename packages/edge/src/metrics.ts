import type { Middleware } from 'koa';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestState } from './http.js';

export { Counter, Gauge, Histogram, Registry };

/** Latency buckets from a fraction of a millisecond (local reads) to seconds (a slow disk). */
const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * One Prometheus registry per process, with Node's default metrics and the
 * HTTP latency histogram by route, served at `GET /metrics`.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly http: Histogram<'method' | 'route' | 'status'>;
  /** Sources of the gauges several owners contribute to (`sharedReadings`), by metric name and label value. */
  private readonly sharedSources = new Map<string, Map<string, () => number>>();

  constructor(process: 'hub' | 'store', labels: Record<string, string> = {}) {
    this.registry.setDefaultLabels({ process, ...labels });
    collectDefaultMetrics({ register: this.registry, prefix: 'shelfsync_' });
    this.http = this.histogram('shelfsync_http_request_duration_seconds', 'HTTP request latency by route', [
      'method',
      'route',
      'status',
    ]);
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** A counter several parts of the process increment: made on first use, the same one after. */
  sharedCounter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    const existing = this.registry.getSingleMetric(name);
    return existing instanceof Counter ? existing : this.counter(name, help, labelNames);
  }

  /**
   * A gauge with one label to which several owners each contribute one sample,
   * read when scraped: `value` is this owner's label value.
   */
  sharedReadings(name: string, help: string, label: string, value: string, read: () => number): void {
    let sources = this.sharedSources.get(name);
    if (sources === undefined) {
      const created = new Map<string, () => number>();
      sources = created;
      this.sharedSources.set(name, created);
      this.readings(name, help, label, () => [...created].map(([key, source]) => [key, source()] as [string, number]));
    }
    sources.set(value, read);
  }

  /** The journal's write+fsync time per group commit, for the storage adapter's `onFsync`. */
  fsyncObserver(): (seconds: number) => void {
    const histogram = this.histogram('shelfsync_journal_fsync_seconds', 'Journal write+fsync time per group commit');
    return (seconds) => histogram.observe(seconds);
  }

  /** A gauge read when scraped. */
  reading(name: string, help: string, read: () => number): Gauge {
    return new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** A gauge with one label, read when scraped: one sample per current label value. */
  readings<L extends string>(name: string, help: string, label: L, read: () => Iterable<[string, number]>): Gauge<L> {
    return new Gauge<L>({
      name,
      help,
      labelNames: [label],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [value, sample] of read()) this.set({ [label]: value } as Partial<Record<L, string>>, sample);
      },
    });
  }

  histogram<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets: SECONDS, registers: [this.registry] });
  }

  /** Times every request; the route is the router's pattern (`/v1/skus/:sku`), never the raw path. */
  middleware(): Middleware<RequestState> {
    return async (ctx, next) => {
      const started = performance.now();
      try {
        await next();
      } finally {
        const route = (ctx as { _matchedRoute?: unknown })._matchedRoute;
        this.http.observe(
          { method: ctx.method, route: typeof route === 'string' ? route : 'unmatched', status: String(ctx.status) },
          (performance.now() - started) / 1000,
        );
      }
    };
  }
}
