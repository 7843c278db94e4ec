import { h, setText, syncChildren } from '../shared/dom.js';
import type { SkuLocation } from '../shared/schemas.js';
import { attrs, svg } from '../shared/svg.js';

const WIDTH = 200;
const HEIGHT = 14;

/**
 * Per-store bars of one SKU: the POS quota, the units escrowed for online and
 * the reserved units, side by side on one scale (the largest shelf), with the
 * numbers written out for readers who do not see the bars.
 */
export function renderStockBars(list: HTMLElement, locations: readonly SkuLocation[]): void {
  const max = Math.max(1, ...locations.map((l) => l.posRights + l.onlineRights + l.reserved));
  const sorted = [...locations].sort((a, b) => (a.location < b.location ? -1 : 1));
  syncChildren(
    list,
    sorted,
    (l) => l.location,
    (l) => {
      const bar = svg('svg', {
        viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
        preserveAspectRatio: 'none',
        class: 'bar-svg',
        'aria-hidden': 'true',
      });
      bar.append(
        svg('rect', { class: 'seg-pos', y: 0, height: HEIGHT }),
        svg('rect', { class: 'seg-online', y: 0, height: HEIGHT }),
        svg('rect', { class: 'seg-reserved', y: 0, height: HEIGHT }),
      );
      return h(
        'li',
        { class: 'bar-row' },
        h('span', { class: 'bar-label' }, l.location),
        bar,
        h('span', { class: 'bar-text' }),
      );
    },
    (row, l) => {
      const [pos, online, reserved] = Array.from(row.querySelectorAll('rect'));
      const scale = WIDTH / max;
      let x = 0;
      for (const [rect, value] of [
        [pos, l.posRights],
        [online, l.onlineRights],
        [reserved, l.reserved],
      ] as const) {
        if (rect === undefined) continue;
        attrs(rect, { x, width: value * scale });
        x += value * scale;
      }
      const deficit = l.deficit !== undefined && l.deficit > 0 ? ` · deficit ${l.deficit}` : '';
      setText(
        row.querySelector('.bar-text') as Element,
        `POS ${l.posRights} · online ${l.onlineRights} · reserved ${l.reserved} · on shelf ${l.onShelf}${deficit}`,
      );
    },
  );
}
