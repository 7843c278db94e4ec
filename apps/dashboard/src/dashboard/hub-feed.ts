import { RequestFailed, requestJson } from '../shared/http.js';
import {
  ChainSummarySchema,
  ClusterSchema,
  ReadySchema,
  SkuListSchema,
  SkuStockSchema,
  StoreLinksSchema,
  type ChainSummary,
  type Cluster,
  type StoreLink,
} from '../shared/schemas.js';
import { Catalog } from './model.js';

/** SKUs loaded by the catalog walk at most; events add the rest as they change. */
const MAX_CATALOG = 5_000;

/** How the dashboard hears from the hub: the event stream, and whether reads get through. */
export interface Connection {
  /** The event stream is open. */
  readonly streamLive: boolean;
  /** The last read reached the hub. */
  readonly hubReachable: boolean;
}

/**
 * What the dashboard knows of the hub, and how it keeps it fresh: the SKU
 * catalog (walked once, then kept current by the event stream), the stores'
 * links (polled), the chain summary (polled, and re-read soon after stock
 * moves). Calls `changed` after anything it holds changed, and `connection`
 * when the stream or the hub's reachability did.
 */
export class HubFeed {
  readonly catalog = new Catalog();
  stores: StoreLink[] = [];
  summary: ChainSummary | null = null;
  /** The last GET /v1/cluster answer (kept while later reads fail), and why the last read failed. */
  cluster: Cluster | null = null;
  clusterProblem: { status: number; message: string } | null = null;
  /** The answering node's /readyz: 200, 503, or null before an answer (or with none). */
  ready: boolean | null = null;
  private live = false;
  private reachable = true;
  private summaryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly changed: () => void,
    private readonly connectionChanged: () => void,
  ) {}

  get connection(): Connection {
    return { streamLive: this.live, hubReachable: this.reachable };
  }

  /** Opens the event stream, starts polling the stores, the cluster and the summary, and walks the catalog. */
  start(): void {
    this.openEvents();
    this.every(2_000, () => this.loadStores());
    this.every(2_000, () => this.loadCluster());
    this.every(2_000, () => this.loadReady());
    this.every(5_000, () => this.loadSummary());
    void this.loadCatalog().catch(() => this.setReachable(false));
  }

  async loadStores(): Promise<void> {
    this.stores = (await requestJson('/v1/stores', StoreLinksSchema)).stores.sort((a, b) =>
      a.storeId < b.storeId ? -1 : 1,
    );
    this.changed();
  }

  /** Reads one SKU into the catalog (its detail: every location). */
  async loadSku(sku: string): Promise<void> {
    this.catalog.stock(await requestJson(`/v1/skus/${encodeURIComponent(sku)}`, SkuStockSchema), Date.now());
  }

  private async loadCluster(): Promise<void> {
    try {
      this.cluster = await requestJson('/v1/cluster', ClusterSchema);
      this.clusterProblem = null;
    } catch (error) {
      const status = error instanceof RequestFailed ? error.status : 0;
      this.clusterProblem = { status, message: error instanceof Error ? error.message : String(error) };
      throw error;
    } finally {
      this.changed();
    }
  }

  /** 503 is an answer (the node holds no lease or lost its database), not an unreachable hub. */
  private async loadReady(): Promise<void> {
    try {
      await requestJson('/readyz', ReadySchema);
      this.ready = true;
    } catch (error) {
      const status = error instanceof RequestFailed ? error.status : 0;
      this.ready = status === 503 ? false : null;
      if (status !== 503) throw error;
    } finally {
      this.changed();
    }
  }

  private async loadSummary(): Promise<void> {
    this.summary = await requestJson('/v1/summary', ChainSummarySchema);
    this.changed();
  }

  private async loadCatalog(): Promise<void> {
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
      const list = await requestJson(`/v1/skus?limit=200${query}`, SkuListSchema);
      const now = Date.now();
      for (const item of list.items) this.catalog.listed(item, now);
      cursor = list.nextCursor;
      this.changed();
    } while (cursor !== null && this.catalog.size < MAX_CATALOG);
  }

  /**
   * The event stream: one `stock` event per changed SKU (the SKU read's body).
   * EventSource reconnects by itself with Last-Event-ID, and the hub replays what
   * changed meanwhile; a `reset` means the hub's data changed, so reload it all.
   */
  private openEvents(): void {
    const events = new EventSource('/v1/events');
    events.addEventListener('open', () => this.setLive(true));
    events.addEventListener('error', () => {
      this.setLive(false);
      if (events.readyState === EventSource.CLOSED) {
        // The browser gave up (the hub answered with an error): start over a little later.
        setTimeout(() => this.openEvents(), 3_000);
      }
    });
    events.addEventListener('stock', (event) => {
      let data: unknown;
      try {
        data = JSON.parse((event as MessageEvent<string>).data);
      } catch {
        return;
      }
      const stock = SkuStockSchema.safeParse(data);
      if (!stock.success) return;
      this.catalog.stock(stock.data, Date.now());
      this.changed();
      this.refreshSummarySoon();
    });
    events.addEventListener('reset', () => {
      this.catalog.clear();
      void this.loadCatalog();
    });
  }

  /** Stock moved: sales and refusals likely did too. One extra summary read per second at most. */
  private refreshSummarySoon(): void {
    this.summaryTimer ??= setTimeout(() => {
      this.summaryTimer = null;
      this.loadSummary().catch(() => {});
    }, 1_000);
  }

  /** Runs `task` now and then every `ms` after it finishes (never two at once); failures mark the hub unreachable. */
  private every(ms: number, task: () => Promise<void>): void {
    const run = (): void => {
      task().then(
        () => {
          if (!this.reachable) this.setReachable(true);
        },
        (error: unknown) => {
          if (error instanceof RequestFailed && error.status === 0) this.setReachable(false);
        },
      );
      setTimeout(run, ms);
    };
    run();
  }

  private setLive(live: boolean): void {
    this.live = live;
    this.connectionChanged();
  }

  private setReachable(reachable: boolean): void {
    this.reachable = reachable;
    this.connectionChanged();
  }
}
