import { attrs, svg } from '../shared/svg.js';
import type { Minute } from '../shared/schemas.js';

const WIDTH = 300;
const HEIGHT = 90;
const SLOTS = 30;

/**
 * The chain view: per minute, units sold (bars), sales refused (red, stacked on
 * top) and reservations held (dots). Drawn once, then only its attributes move.
 */
export class ChainChart {
  private readonly sold: SVGRectElement[] = [];
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
      const refused = svg('rect', { x, width: slot - 2, y: HEIGHT, height: 0, class: 'bar-refused' });
      const held = svg('circle', { cx: x + (slot - 2) / 2, cy: HEIGHT, r: 0, class: 'dot-reserved' });
      this.sold.push(sold);
      this.refused.push(refused);
      this.held.push(held);
      root.append(sold, refused, held);
    }
    container.append(root);
  }

  update(minutes: readonly Minute[]): void {
    const recent = minutes.slice(-SLOTS);
    const offset = SLOTS - recent.length;
    const refusedOf = (m: Minute): number => m.refused.locationEmpty + m.refused.escrowHeld;
    const max = Math.max(4, ...recent.map((m) => m.sold + refusedOf(m)), ...recent.map((m) => m.reservations.held));
    const scale = (HEIGHT - 4) / max;
    for (let i = 0; i < SLOTS; i++) {
      const m = i >= offset ? recent[i - offset] : undefined;
      const sold = m?.sold ?? 0;
      const refused = m === undefined ? 0 : refusedOf(m);
      const held = m?.reservations.held ?? 0;
      const soldHeight = sold * scale;
      const refusedHeight = refused * scale;
      attrs(this.sold[i] as SVGRectElement, { y: HEIGHT - soldHeight, height: soldHeight });
      attrs(this.refused[i] as SVGRectElement, { y: HEIGHT - soldHeight - refusedHeight, height: refusedHeight });
      attrs(this.held[i] as SVGCircleElement, { cy: HEIGHT - held * scale, r: held > 0 ? 2.5 : 0 });
    }
    const totals = recent.reduce(
      (t, m) => ({ sold: t.sold + m.sold, refused: t.refused + refusedOf(m), held: t.held + m.reservations.held }),
      { sold: 0, refused: 0, held: 0 },
    );
    const text = `Last ${recent.length} minutes: ${totals.sold} units sold, ${totals.refused} sales refused, ${totals.held} reservations held`;
    if (this.title.textContent !== text) this.title.textContent = text;
  }
}
