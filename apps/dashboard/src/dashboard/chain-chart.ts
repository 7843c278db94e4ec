import { attrs, svg } from '../shared/svg.js';
import type { Minute } from '../shared/schemas.js';
import { refusalCounts, refusalText } from './model.js';

const WIDTH = 300;
const HEIGHT = 90;
const SLOTS = 30;

/**
 * The chain view: per minute, units sold (bars), sales refused (stacked on top:
 * red for an escrow matter, the hub out of reach or a top-up that did not settle;
 * pale for an empty shelf, units at another location) and reservations held
 * (dots). Drawn once, then only its attributes move.
 */
export class ChainChart {
  private readonly sold: SVGRectElement[] = [];
  private readonly empty: SVGRectElement[] = [];
  private readonly refused: SVGRectElement[] = [];
  private readonly held: SVGCircleElement[] = [];
  private readonly title: SVGTitleElement;

  constructor(container: HTMLElement) {
    const root = svg('svg', {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      preserveAspectRatio: 'none',
      role: 'img',
      class: 'chart-svg',
    });
    this.title = svg('title');
    root.append(this.title, svg('line', { x1: 0, y1: HEIGHT - 0.5, x2: WIDTH, y2: HEIGHT - 0.5, class: 'axis' }));
    const slot = WIDTH / SLOTS;
    for (let i = 0; i < SLOTS; i++) {
      const x = i * slot + 1;
      const sold = svg('rect', { x, width: slot - 2, y: HEIGHT, height: 0, class: 'bar-sold' });
      const empty = svg('rect', { x, width: slot - 2, y: HEIGHT, height: 0, class: 'bar-refused-empty' });
      const refused = svg('rect', { x, width: slot - 2, y: HEIGHT, height: 0, class: 'bar-refused' });
      const held = svg('circle', { cx: x + (slot - 2) / 2, cy: HEIGHT, r: 0, class: 'dot-reserved' });
      this.sold.push(sold);
      this.empty.push(empty);
      this.refused.push(refused);
      this.held.push(held);
      root.append(sold, empty, refused, held);
    }
    container.append(root);
  }

  update(minutes: readonly Minute[]): void {
    const recent = minutes.slice(-SLOTS);
    const offset = SLOTS - recent.length;
    const max = Math.max(
      4,
      ...recent.map((m) => m.sold + refusalCounts([m]).total),
      ...recent.map((m) => m.reservations.held),
    );
    const scale = (HEIGHT - 4) / max;
    for (let i = 0; i < SLOTS; i++) {
      const m = i >= offset ? recent[i - offset] : undefined;
      const counts = m === undefined ? undefined : refusalCounts([m]);
      const soldHeight = (m?.sold ?? 0) * scale;
      const emptyHeight = (counts?.locationEmpty ?? 0) * scale;
      const refusedHeight = ((counts?.total ?? 0) - (counts?.locationEmpty ?? 0)) * scale;
      const held = m?.reservations.held ?? 0;
      attrs(this.sold[i] as SVGRectElement, { y: HEIGHT - soldHeight, height: soldHeight });
      attrs(this.empty[i] as SVGRectElement, { y: HEIGHT - soldHeight - emptyHeight, height: emptyHeight });
      attrs(this.refused[i] as SVGRectElement, {
        y: HEIGHT - soldHeight - emptyHeight - refusedHeight,
        height: refusedHeight,
      });
      attrs(this.held[i] as SVGCircleElement, { cy: HEIGHT - held * scale, r: held > 0 ? 2.5 : 0 });
    }
    const sold = recent.reduce((n, m) => n + m.sold, 0);
    const held = recent.reduce((n, m) => n + m.reservations.held, 0);
    const text = `Last ${recent.length} minutes: ${sold} units sold, ${refusalText(recent)}, ${held} reservations held`;
    if (this.title.textContent !== text) this.title.textContent = text;
  }
}
