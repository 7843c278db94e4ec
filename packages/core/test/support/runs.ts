/**
 * Number of fast-check runs for a property: its base count, scaled by
 * SHELFSYNC_FC_SCALE (e.g. 10 for a long local soak). CI uses the base counts.
 */
export function runs(base: number): number {
  const scale = Number(process.env.SHELFSYNC_FC_SCALE ?? '1');
  return Math.max(1, Math.round(base * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}
