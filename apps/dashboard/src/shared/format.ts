/** Formatting shared by the pages; pure, so it is tested without a browser. */

const numberFormat = new Intl.NumberFormat('en');

export function units(value: number): string {
  return numberFormat.format(value);
}

/** "now", "12 s ago", "4 min ago", "2 h ago". */
export function ago(thenMs: number, nowMs: number): string {
  const seconds = Math.max(0, Math.round((nowMs - thenMs) / 1000));
  if (seconds < 2) return 'now';
  return `${duration(seconds * 1000)} ago`;
}

/** "0 s", "850 ms", "12 s", "4 min", "2 h 5 min". */
export function duration(ms: number): string {
  if (ms <= 0) return '0 s';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const rest = minutes % 60;
  return rest === 0 ? `${Math.floor(minutes / 60)} h` : `${Math.floor(minutes / 60)} h ${rest} min`;
}
