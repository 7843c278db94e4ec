import '../shared/styles.css';
import { byId, h, setAttr, setText, syncChildren } from '../shared/dom.js';
import { ago, duration, units } from '../shared/format.js';
import { RequestFailed, requestJson } from '../shared/http.js';
import {
  ChainSummarySchema,
  LinkStateSchema,
  SkuListSchema,
  SkuStockSchema,
  StoreLinksSchema,
  type ChainSummary,
  type StoreLink,
} from '../shared/schemas.js';
import { sparklinePath } from '../shared/sparkline.js';
import { attrs, svg } from '../shared/svg.js';
import { ChainChart } from './chain-chart.js';
import { Catalog, computeAlerts, paginate, refusalText, type CatalogEntry } from './model.js';
import { renderStockBars } from './stock-bars.js';

/** SKUs loaded by the catalog walk at most; events add the rest as they change. */
const MAX_CATALOG = 5_000;
const PAGE_SIZE = 20;
const TOKEN_KEY = 'shelfsync.apiToken';

const catalog = new Catalog();
let stores: StoreLink[] = [];
let summary: ChainSummary | null = null;
let page = 0;
let openSku: string | null = null;
let hubReachable = true;
let streamLive = false;

// ---- connection to the hub -------------------------------------------------

const connection = byId('hub-connection');
function showConnection(): void {
  const [text, kind] =
    streamLive && hubReachable
      ? ['Live: updates as they happen', 'pill-ok']
      : hubReachable
        ? ['Live updates interrupted: reconnecting…', 'pill-wait']
        : ['Hub unreachable: showing the last known figures; retrying…', 'pill-bad'];
  setText(connection, text);
  setAttr(connection, 'class', `pill ${kind}`);
  document.body.classList.toggle('stale', !(streamLive && hubReachable));
}

/**
 * The event stream: one `stock` event per changed SKU (the SKU read's body).
 * EventSource reconnects by itself with Last-Event-ID, and the hub replays what
 * changed meanwhile; a `reset` means the hub's data changed, so reload it all.
 */
function openEvents(): void {
  const events = new EventSource('/v1/events');
  events.addEventListener('open', () => {
    streamLive = true;
    showConnection();
  });
  events.addEventListener('error', () => {
    streamLive = false;
    showConnection();
    if (events.readyState === EventSource.CLOSED) {
      // The browser gave up (the hub answered with an error): start over a little later.
      setTimeout(openEvents, 3_000);
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
    catalog.stock(stock.data, Date.now());
    scheduleRender();
    refreshSummarySoon();
  });
  events.addEventListener('reset', () => {
    catalog.clear();
    void loadCatalog();
  });
}

// ---- data loading ----------------------------------------------------------

async function loadCatalog(): Promise<void> {
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const list = await requestJson(`/v1/skus?limit=200${query}`, SkuListSchema);
    const now = Date.now();
    for (const item of list.items) catalog.listed(item, now);
    cursor = list.nextCursor;
    scheduleRender();
  } while (cursor !== null && catalog.size < MAX_CATALOG);
}

/** Runs `task` now and then every `ms` after it finishes (never two at once); failures mark the hub unreachable. */
function every(ms: number, task: () => Promise<void>): void {
  const run = (): void => {
    task().then(
      () => {
        if (!hubReachable) {
          hubReachable = true;
          showConnection();
        }
      },
      (error: unknown) => {
        if (error instanceof RequestFailed && error.status === 0) {
          hubReachable = false;
          showConnection();
        }
      },
    );
    setTimeout(run, ms);
  };
  run();
}

// ---- stores ----------------------------------------------------------------

const storeRows = byId('stores');
function renderStores(now: number): void {
  byId('stores-empty').hidden = stores.length > 0;
  syncChildren(
    storeRows,
    stores,
    (s) => s.storeId,
    (s) => {
      const button = h('button', { type: 'button', class: 'small-button' });
      button.addEventListener('click', () => void toggleLink(button.dataset.store ?? '', button.dataset.action ?? ''));
      return h(
        'tr',
        {},
        h('th', { scope: 'row' }, s.storeId),
        h('td', {}, h('span', { class: 'status' })),
        h('td', { class: 'last-seen' }),
        h('td', { class: 'lag' }),
        h('td', { class: 'pending num' }),
        h('td', { class: 'rejected num' }),
        h('td', {}, button),
      );
    },
    (row, s) => {
      const status = row.querySelector('.status') as HTMLElement;
      const [label, kind] = s.connected ? ['connected', 'ok'] : s.cut === true ? ['cut', 'bad'] : ['offline', 'bad'];
      setText(status, label);
      setAttr(status, 'class', `status status-${kind}`);
      setAttr(row, 'data-state', label);
      setText(row.querySelector('.last-seen') as Element, s.connected ? 'now' : ago(Date.parse(s.lastSeen), now));
      setText(row.querySelector('.lag') as Element, s.syncLagMs === undefined ? '–' : duration(s.syncLagMs));
      setText(row.querySelector('.pending') as Element, String(s.pendingUpdates ?? '–'));
      setText(row.querySelector('.rejected') as Element, String(s.rejectedUpdates));
      const button = row.querySelector('button') as HTMLButtonElement;
      const action = s.cut === true ? 'restored' : 'cut';
      button.dataset.store = s.storeId;
      button.dataset.action = action;
      setText(button, action === 'cut' ? 'Cut link' : 'Restore link');
      setAttr(button, 'aria-label', `${action === 'cut' ? 'Cut' : 'Restore'} the link of ${s.storeId}`);
      button.disabled = token() === null;
    },
  );
}

async function loadStores(): Promise<void> {
  stores = (await requestJson('/v1/stores', StoreLinksSchema)).stores.sort((a, b) => (a.storeId < b.storeId ? -1 : 1));
  scheduleRender();
}

async function loadSummary(): Promise<void> {
  summary = await requestJson('/v1/summary', ChainSummarySchema);
  scheduleRender();
}

let summaryTimer: ReturnType<typeof setTimeout> | null = null;
/** Stock moved: sales and refusals likely did too. One extra summary read per second at most. */
function refreshSummarySoon(): void {
  summaryTimer ??= setTimeout(() => {
    summaryTimer = null;
    loadSummary().catch(() => {});
  }, 1_000);
}

// ---- tester controls: the admin link API -----------------------------------

const tokenStatus = byId('token-status');
function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

function showToken(): void {
  const has = token() !== null;
  byId('token-forget').hidden = !has;
  setText(
    tokenStatus,
    has
      ? 'Token set for this tab: the Cut link and Restore link buttons are on.'
      : 'No token: tester controls are off.',
  );
  renderStores(Date.now());
}

byId<HTMLFormElement>('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = byId<HTMLInputElement>('token-input');
  sessionStorage.setItem(TOKEN_KEY, input.value.trim());
  input.value = '';
  showToken();
});
byId('token-forget').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  showToken();
});

async function toggleLink(storeId: string, state: string): Promise<void> {
  const bearer = token();
  if (bearer === null || (state !== 'cut' && state !== 'restored')) return;
  try {
    const result = await requestJson(`/v1/admin/stores/${encodeURIComponent(storeId)}/link`, LinkStateSchema, {
      method: 'POST',
      body: { state },
      headers: { authorization: `Bearer ${bearer}` },
    });
    setText(tokenStatus, `${result.storeId}: link ${result.state}.`);
  } catch (error) {
    if (error instanceof RequestFailed && error.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      showToken();
      setText(tokenStatus, 'The hub refused that token; enter the API token again.');
      return;
    }
    setText(tokenStatus, `Could not change ${storeId}'s link: ${error instanceof Error ? error.message : 'error'}`);
  }
  await loadStores().catch(() => {});
}

// ---- SKUs: table and detail ------------------------------------------------

const search = byId<HTMLInputElement>('sku-search');
search.addEventListener('input', () => {
  page = 0;
  scheduleRender();
});
byId('page-prev').addEventListener('click', () => {
  page--;
  scheduleRender();
});
byId('page-next').addEventListener('click', () => {
  page++;
  scheduleRender();
});

const SPARK_W = 80;
const SPARK_H = 18;
function sparkline(width: number, height: number): SVGSVGElement {
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'spark', 'aria-hidden': 'true' });
  root.append(svg('path', { d: '' }));
  return root;
}

const skuRows = byId('sku-rows');
function renderSkus(now: number): void {
  const matches = catalog.search(search.value);
  const shown = paginate(matches, page, PAGE_SIZE);
  page = shown.page;
  setText(
    byId('sku-count'),
    `${units(matches.length)} SKU${matches.length === 1 ? '' : 's'}${search.value.trim() === '' ? '' : ' match'}`,
  );
  setText(byId('page-label'), `Page ${shown.page + 1} of ${shown.pages}`);
  byId<HTMLButtonElement>('page-prev').disabled = shown.page === 0;
  byId<HTMLButtonElement>('page-next').disabled = shown.page >= shown.pages - 1;
  syncChildren(
    skuRows,
    shown.items,
    (e) => e.sku,
    (e) =>
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, h('a', { href: `#sku=${encodeURIComponent(e.sku)}` }, e.sku)),
        h('td', { class: 'num available' }),
        h('td', { class: 'trend' }, sparkline(SPARK_W, SPARK_H)),
        h('td', { class: 'updated' }),
      ),
    (row, e) => {
      setText(row.querySelector('.available') as Element, units(e.available));
      setAttr(row, 'aria-current', e.sku === openSku ? 'true' : 'false');
      attrs(row.querySelector('path') as SVGPathElement, { d: sparklinePath(e.history.values(), SPARK_W, SPARK_H) });
      setText(row.querySelector('.updated') as Element, e.updatedAt === null ? '–' : ago(Date.parse(e.updatedAt), now));
    },
  );
}

const detail = byId('detail');
const detailSpark = sparkline(300, 40);
byId('detail-spark').append(detailSpark);
function renderDetail(entry: CatalogEntry | undefined): void {
  if (openSku === null) {
    detail.hidden = true;
    return;
  }
  detail.hidden = false;
  setText(byId('detail-title'), openSku);
  if (entry === undefined) {
    setText(byId('detail-summary'), 'Loading…');
    return;
  }
  const stores = entry.locations ?? [];
  setText(
    byId('detail-summary'),
    `${units(entry.available)} available chain-wide across ${stores.length} store${stores.length === 1 ? '' : 's'}`,
  );
  attrs(detailSpark.querySelector('path') as SVGPathElement, {
    d: sparklinePath(entry.history.values(), 300, 40),
  });
  renderStockBars(byId('detail-bars'), stores);
}

async function openDetail(): Promise<void> {
  const match = /^#sku=(.+)$/.exec(location.hash);
  openSku = match?.[1] === undefined ? null : decodeURIComponent(match[1]);
  scheduleRender();
  if (openSku === null) return;
  byId('detail-title').focus();
  try {
    catalog.stock(await requestJson(`/v1/skus/${encodeURIComponent(openSku)}`, SkuStockSchema), Date.now());
  } catch (error) {
    setText(byId('detail-summary'), error instanceof Error ? error.message : 'could not load');
    return;
  }
  scheduleRender();
}
window.addEventListener('hashchange', () => void openDetail());

// ---- alerts ----------------------------------------------------------------

const threshold = byId<HTMLInputElement>('offline-threshold');
threshold.addEventListener('input', () => scheduleRender());
function renderAlerts(now: number): void {
  const seconds = Number(threshold.value);
  const alerts = computeAlerts({
    stores,
    refusals: summary?.refusedWithChainStock ?? [],
    catalog: catalog.all(),
    now,
    offlineAfterMs: (Number.isFinite(seconds) && seconds > 0 ? seconds : 30) * 1000,
  });
  byId('alerts-empty').hidden = alerts.length > 0;
  syncChildren(
    byId('alerts'),
    alerts,
    (a) => a.key,
    () => h('li', {}),
    (item, a) => {
      setAttr(item, 'class', `alert alert-${a.level}`);
      if (a.sku === undefined) setText(item, a.text);
      else if (item.firstElementChild?.textContent !== a.text) {
        item.replaceChildren(h('a', { href: `#sku=${encodeURIComponent(a.sku)}` }, a.text));
      }
    },
  );
}

// ---- chain view ------------------------------------------------------------

const chart = new ChainChart(byId('chain-chart'));
function renderChain(): void {
  if (summary === null) return;
  chart.update(summary.minutes);
  const recent = summary.minutes.slice(-5);
  const sold = recent.reduce((n, m) => n + m.sold, 0);
  const held = recent.reduce((n, m) => n + m.reservations.held, 0);
  setText(
    byId('chain-totals'),
    `Last 5 min: ${units(sold / recent.length || 0)} units sold/min · ${refusalText(recent)} · ${held} reservations`,
  );
}

// ---- rendering -------------------------------------------------------------

let frame = 0;
/** One render per animation frame however many events arrive: the DOM changes in place, in one go. */
function scheduleRender(): void {
  if (frame !== 0) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    const now = Date.now();
    renderStores(now);
    renderSkus(now);
    renderDetail(openSku === null ? undefined : catalog.get(openSku));
    renderAlerts(now);
    renderChain();
  });
}

showConnection();
showToken();
openEvents();
every(2_000, loadStores);
every(5_000, loadSummary);
void loadCatalog().catch(() => {
  hubReachable = false;
  showConnection();
});
void openDetail();
// Relative times ("12 s ago") move on by themselves.
setInterval(scheduleRender, 1_000);
