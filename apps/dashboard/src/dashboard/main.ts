/**
 * The cloud dashboard: renders what the hub feed holds (stores, SKUs, alerts,
 * the chain's minutes, the hub's cluster), at most once an animation frame.
 */
import '../shared/styles.css';
import { byId, h, setAttr, setText, syncChildren } from '../shared/dom.js';
import { ago, duration, units } from '../shared/format.js';
import { sparklinePath } from '../shared/sparkline.js';
import { attrs, svg } from '../shared/svg.js';
import { ChainChart } from './chain-chart.js';
import { clusterPanel, clusterProblemText, readinessText, type NodeRow, type ShardCell } from './cluster-model.js';
import { HubFeed } from './hub-feed.js';
import { initLinkControls, toggleLink, token } from './link-controls.js';
import { computeAlerts, paginate, refusalText, type CatalogEntry } from './model.js';
import { renderStockBars } from './stock-bars.js';

const PAGE_SIZE = 20;

const feed = new HubFeed(scheduleRender, showConnection);
const { catalog } = feed;
let page = 0;
let openSku: string | null = null;

// ---- connection to the hub -------------------------------------------------

const connection = byId('hub-connection');
function showConnection(): void {
  const { streamLive, hubReachable } = feed.connection;
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

// ---- stores ----------------------------------------------------------------

const storeRows = byId('stores');
function renderStores(now: number): void {
  byId('stores-empty').hidden = feed.stores.length > 0;
  syncChildren(
    storeRows,
    feed.stores,
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
    await feed.loadSku(openSku);
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
    stores: feed.stores,
    refusals: feed.summary?.refusedWithChainStock ?? [],
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
  const { summary } = feed;
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

// ---- cluster ---------------------------------------------------------------

function renderCluster(now: number): void {
  const ready = readinessText(feed.ready);
  setText(byId('cluster-ready'), ready.text);
  setAttr(byId('cluster-ready'), 'class', `pill pill-${ready.kind}`);
  const problem = byId('cluster-problem');
  problem.hidden = feed.clusterProblem === null;
  if (feed.clusterProblem !== null) {
    setText(problem, clusterProblemText(feed.clusterProblem.status, feed.clusterProblem.message));
  }
  if (feed.cluster === null) return;
  const panel = clusterPanel(feed.cluster, now);
  setText(byId('cluster-mode'), `· ${panel.mode}`);
  setText(byId('cluster-summary'), panel.summary);
  syncChildren(byId('cluster-nodes'), panel.nodes, (n) => n.key, createNodeRow, updateNodeRow);
  byId('shard-map-block').hidden = panel.cells.length === 0;
  setAttr(byId('shard-map'), 'aria-label', panel.mapLabel);
  syncChildren(
    byId('shard-map'),
    panel.cells,
    (c) => c.key,
    () => h('span', {}),
    (cell: HTMLSpanElement, c: ShardCell) => {
      setAttr(cell, 'class', `shard-cell ${c.colour}`);
      setAttr(cell, 'title', c.title);
    },
  );
}

function createNodeRow(n: NodeRow): HTMLTableRowElement {
  return h(
    'tr',
    {},
    h(
      'th',
      { scope: 'row', class: 'node-name' },
      h('span', { class: 'swatch' }),
      n.key,
      h('span', { class: 'muted self' }),
    ),
    h('td', { class: 'url' }),
    h('td', {}, h('span', { class: 'status' })),
    h('td', { class: 'stores num' }),
    h('td', { class: 'shards num' }),
    h('td', { class: 'heartbeat' }),
  );
}

function updateNodeRow(row: HTMLTableRowElement, n: NodeRow): void {
  setAttr(row.querySelector('.swatch') as Element, 'class', `swatch ${n.colour}`);
  setText(row.querySelector('.self') as Element, n.self ? ' (answered)' : '');
  setText(row.querySelector('.url') as Element, n.url);
  const status = row.querySelector('.status') as HTMLElement;
  setText(status, n.alive ? 'alive' : 'dead');
  setAttr(status, 'class', `status status-${n.alive ? 'ok' : 'bad'}`);
  setAttr(row, 'data-state', n.alive ? 'alive' : 'dead');
  setText(row.querySelector('.stores') as Element, n.stores);
  setText(row.querySelector('.shards') as Element, n.shards);
  setText(row.querySelector('.heartbeat') as Element, n.heartbeat);
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
    renderCluster(now);
  });
}

showConnection();
initLinkControls({ tokenChanged: () => renderStores(Date.now()), linkChanged: () => feed.loadStores() });
feed.start();
void openDetail();
// Relative times ("12 s ago") move on by themselves.
setInterval(scheduleRender, 1_000);
