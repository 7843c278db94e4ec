import type { ComparisonRun, SystemResult } from './runner.js';
import type { ShelfsyncDetail } from './shelfsync.js';
import { FRAME_CLASSES, type FrameClass } from './wire-meter.js';
import { MINUTE, defaultCompareOptions, type CompareOptions } from './workload.js';

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const pct = (n: number): string => `${fmt(n * 100, 1)}%`;

/** The comparison as a markdown table, systems as columns, then what shelfsync's real chain measured. */
export function comparisonTable(run: ComparisonRun, o: CompareOptions = defaultCompareOptions): string {
  const r = run.results;
  const row = (label: string, cell: (x: SystemResult) => string): string => `| ${label} | ${r.map(cell).join(' | ')} |`;
  const storeOutages = run.outages.filter((x) => x.store >= 0);
  const hub = run.outages.find((x) => x.store < 0);
  const real = r.find((x) => x.shelfsync !== undefined);
  return [
    `Workload (seed ${o.seed}): ${o.stores} stores, ${o.skus} SKUs (skewed demand), ${o.hours} virtual hours; ${fmt(run.attempts)} in-store sales with the unit in hand, ${o.ordersPerStoreHour} online pickup orders per store-hour, shelves topped up every 2 h; every store cut off once (${fmt(Math.min(...storeOutages.map((x) => x.to - x.from)) / MINUTE)}-${fmt(Math.max(...storeOutages.map((x) => x.to - x.from)) / MINUTE)} min), the centre down once (${fmt(((hub?.to ?? 0) - (hub?.from ?? 0)) / MINUTE)} min).`,
    '',
    `| measure | ${r.map((x) => x.name).join(' | ')} |`,
    `| --- | ${r.map(() => '---').join(' | ')} |`,
    row('storefront staleness, mean / p99', (x) => `${fmt(x.stalenessMeanMin, 1)} / ${fmt(x.stalenessP99Min, 1)} min`),
    row('oversold units (online orders the shelf could not fill)', (x) => fmt(x.oversold)),
    row('lost updates (units missing from or extra in the merged state)', (x) => fmt(x.lost)),
    row('in-store sales served while cut off', (x) => pct(x.servedInPartition)),
    row('sales refused with the unit in hand', (x) => pct(x.refusedWithStock)),
    row('online orders the shelf could fill, taken', (x) => pct(x.onlineServed)),
    row('the same, of those placed while the centre was up', (x) => pct(x.onlineServedCentreUp)),
    row('bytes on the wire per sale', (x) => fmt(x.bytesPerSale)),
    row('hub CPU-seconds per 1,000 sales (baselines: state logic only)', (x) => fmt(x.hubCpuSecondsPer1000, 4)),
    row('stored bytes per SKU at the centre', (x) => fmt(x.storedBytesPerSku)),
    row('stored bytes per SKU at a store', (x) => fmt(x.storeBytesPerSku)),
    ...(real?.shelfsync === undefined ? [] : ['', ...shelfsyncDetail(real, real.shelfsync, o)]),
  ].join('\n');
}

const FRAME_LABELS: Record<FrameClass, string> = {
  relay: 'relayed updates (hub to the stores whose share they change)',
  'store update': "stores' own updates (store to hub)",
  'catch-up': 'catch-up on reconnect (step 1 and step 2, both ways)',
  ack: 'acknowledgements (hub to store)',
  release: 'release requests (hub to store)',
  summary: 'availability summaries and follows',
  cursor: 'cursor messages (hub to store)',
  handshake: 'handshakes (hello, welcome)',
  'top-up': 'top-up requests and answers',
  report: 'refusal reports (store to hub)',
  error: 'error messages',
  framing: 'WebSocket frame headers',
};

/** shelfsync's measured traffic by frame class, its hub's work and its storage. */
function shelfsyncDetail(result: SystemResult, d: ShelfsyncDetail, o: CompareOptions): string[] {
  const perSale = (n: number): number => (result.sales === 0 ? 0 : n / result.sales);
  const total = Object.values(d.wireBytes).reduce((a, b) => a + b, 0);
  const { hubWrites, hubWriteFrameBytes, storeUpdates, storeUpdateFrameBytes } = d.relayed;
  const { hub, store, bench, shared } = d.cpu.samples;
  const samples = Math.max(1, hub + store + bench + shared);
  const rebalanced = d.allocatorEvents['grant (rebalance)'] ?? 0;
  const toppedUp = d.allocatorEvents['grant (topup)'] ?? 0;
  return [
    `shelfsync's bytes, measured on its links (${fmt(d.wireFrames)} frames both ways, every store reconnecting after its outage and the centre's):`,
    '',
    '| frames | bytes per sale | share |',
    '| --- | --- | --- |',
    ...FRAME_CLASSES.filter((c) => (d.wireBytes[c] ?? 0) > 0)
      .sort((a, b) => (d.wireBytes[b] ?? 0) - (d.wireBytes[a] ?? 0))
      .map(
        (c) =>
          `| ${FRAME_LABELS[c]} | ${fmt(perSale(d.wireBytes[c] ?? 0), 1)} | ${pct((d.wireBytes[c] ?? 0) / total)} |`,
      ),
    `| all | ${fmt(perSale(total), 1)} | 100.0% |`,
    '',
    `The hub relayed ${fmt(storeUpdates)} store updates (${fmt(storeUpdateFrameBytes / Math.max(1, storeUpdates))} B a frame) and made ${fmt(hubWrites)} writes of its own (${fmt(perSale(hubWrites), 2)} per sale: a reservation and its settlement for each of ${fmt(d.ordersTaken)} orders, ${fmt(rebalanced)} grants at a rebalance, ${fmt(toppedUp)} for a top-up; ${fmt(hubWriteFrameBytes / Math.max(1, hubWrites))} B a whole frame); a store on protocol 7 is sent a relay only when it changes that store's share (a store's update reaches no other store, a hub write the store whose online account it changes), stores on protocol 6 every one; it asked ${fmt(d.allocatorEvents['release-asked'] ?? 0)} releases. ` +
      `Hub CPU is the chain's measured CPU time (${fmt(d.chainCpuSecondsPer1000, 2)} s per 1,000 sales for the hub, ${o.stores} stores and the bench in one process) times the hub's share of its profile samples (${pct(hub / samples)} hub, ${pct(store / samples)} stores, ${pct(shared / samples)} shared code split between the two in proportion, ${pct(bench / samples)} bench). ` +
      `Stored: the hub's documents as held (snapshot and update log) ${fmt(result.storedBytesPerSku)} B per SKU, ${fmt(d.hubDocBytesPerSku)} B once compacted; a store ${fmt(d.storeStoredBytesPerSku)} B. ` +
      `The event loop sat idle ${fmt(d.loopIdleMs)} ms of the day${d.loopIdleMs < 1 ? ': no wait on a real timer decided anything' : ', waiting on real timers (a top-up or release wait running out)'}.`,
  ];
}

/** Four small bar charts as one SVG: what partitions cost each system. */
export function comparisonChart(run: ComparisonRun): string {
  const panels: { title: string; value: (x: SystemResult) => number; label: (v: number) => string }[] = [
    { title: 'oversold units', value: (x) => x.oversold, label: (v) => fmt(v) },
    { title: 'lost updates (units)', value: (x) => x.lost, label: (v) => fmt(v) },
    {
      title: 'in-store sales served while cut off',
      value: (x) => x.servedInPartition * 100,
      label: (v) => `${fmt(v, 0)}%`,
    },
    { title: 'storefront staleness p99 (min)', value: (x) => x.stalenessP99Min, label: (v) => fmt(v, 0) },
  ];
  const colors = ['#9a9a9a', '#d08c3a', '#5b7fb5', '#2f9e6e'];
  const width = 920;
  const panelW = width / panels.length;
  const height = 260;
  const barArea = 160;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  panels.forEach((panel, p) => {
    const x0 = p * panelW + 20;
    const max = Math.max(1, ...run.results.map(panel.value));
    parts.push(`<text x="${x0}" y="20" font-weight="600">${panel.title}</text>`);
    const barW = (panelW - 50) / run.results.length;
    run.results.forEach((r, i) => {
      const v = panel.value(r);
      const h = (v / max) * barArea;
      const x = x0 + i * barW;
      const y = 40 + barArea - h;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 6).toFixed(1)}" height="${h.toFixed(1)}" fill="${colors[i] ?? '#888'}"/>`,
      );
      parts.push(
        `<text x="${(x + (barW - 6) / 2).toFixed(1)}" y="${(y - 4).toFixed(1)}" text-anchor="middle">${panel.label(v)}</text>`,
      );
    });
  });
  run.results.forEach((r, i) => {
    const x = 20 + i * 200;
    parts.push(`<rect x="${x}" y="${height - 34}" width="12" height="12" fill="${colors[i] ?? '#888'}"/>`);
    parts.push(`<text x="${x + 18}" y="${height - 24}">${r.name}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
