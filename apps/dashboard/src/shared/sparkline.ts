/** One point of a series: a time (ms) and a value. */
export interface Point {
  readonly t: number;
  readonly v: number;
}

/**
 * A fixed-size history of a value: the newest `capacity` points, one per change.
 * The dashboard keeps one per SKU from the live events, so a sparkline needs no
 * history endpoint on the hub.
 */
export class History {
  private readonly points: Point[] = [];
  constructor(private readonly capacity = 120) {}

  /** Records a value; a repeat of the last value only moves time on. */
  push(t: number, v: number): void {
    const last = this.points.at(-1);
    if (last !== undefined && last.v === v && this.points.length > 1 && this.points.at(-2)?.v === v) {
      this.points[this.points.length - 1] = { t, v };
      return;
    }
    this.points.push({ t, v });
    if (this.points.length > this.capacity) this.points.shift();
  }

  values(): readonly Point[] {
    return this.points;
  }
}

/**
 * The SVG path of a step line through `points` in a `width` x `height` box (y
 * grows downwards), scaled to the series' own range from zero, time on x. A
 * single point draws a flat line; none draws nothing.
 */
export function sparklinePath(points: readonly Point[], width: number, height: number, pad = 1): string {
  if (points.length === 0) return '';
  const first = points[0] as Point;
  const last = points[points.length - 1] as Point;
  const max = Math.max(1, ...points.map((p) => p.v));
  const span = last.t - first.t;
  const x = (t: number): number => (span <= 0 ? width - pad : pad + ((t - first.t) / span) * (width - 2 * pad));
  const y = (v: number): number => pad + (1 - Math.max(0, v) / max) * (height - 2 * pad);
  const round = (n: number): string => String(Math.round(n * 10) / 10);
  if (points.length === 1) return `M${round(pad)} ${round(y(first.v))}H${round(width - pad)}`;
  let path = `M${round(x(first.t))} ${round(y(first.v))}`;
  for (const point of points.slice(1)) path += `H${round(x(point.t))}V${round(y(point.v))}`;
  return path;
}
