import type { SystemResult, runComparison } from './runner.js';
import { MINUTE, defaultCompareOptions, type CompareOptions } from './workload.js';

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const pct = (n: number): string => `${fmt(n * 100, 1)}%`;

/** The comparison as a markdown table, systems as columns. */
export function comparisonTable(
  run: ReturnType<typeof runComparison>,
  o: CompareOptions = defaultCompareOptions,
): string {
  const r = run.results;
  const row = (label: string, cell: (x: SystemResult) => string): string => `| ${label} | ${r.map(cell).join(' | ')} |`;
  const storeOutages = run.outages.filter((x) => x.store >= 0);
  const hub = run.outages.find((x) => x.store < 0);
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
    row('bytes on the wire per sale', (x) => fmt(x.bytesPerSale)),
    row('hub CPU-seconds per 1,000 sales (state logic only)', (x) => fmt(x.hubCpuSecondsPer1000, 4)),
    row('stored bytes per SKU at the centre', (x) => fmt(x.storedBytesPerSku)),
    '',
    `shelfsync made ${fmt(r.find((x) => x.hubWritesPerSale !== undefined)?.hubWritesPerSale ?? 0, 2)} hub writes per sale (grants, reservations, settlements), each relayed to every connected store.`,
  ].join('\n');
}

/** Four small bar charts as one SVG: what partitions cost each system. */
export function comparisonChart(run: ReturnType<typeof runComparison>): string {
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
