import { AllocatorConfigSchema } from '@shelfsync/escrow';
import { runComparison, type SystemResult } from './runner.js';
import { defaultCompareOptions } from './workload.js';

/** An escrow setting the sweep runs: a label and what it changes from the defaults. */
export interface PolicySetting {
  readonly label: string;
  readonly allocator: Record<string, unknown>;
}

/**
 * The settings that show the trade-off between the two channels (ADR 0017): the
 * defaults, the policy before pooling, a larger floor, and an escrow held at its
 * target (no band) with that floor.
 */
export const POLICY_SETTINGS: readonly PolicySetting[] = [
  { label: 'defaults (pooled 0.5, floor 1, band ×0.5 to ×2)', allocator: {} },
  { label: 'not pooled (the policy before)', allocator: { onlinePooling: 0 } },
  { label: 'floor 2', allocator: { onlineFloor: 2 } },
  { label: 'floor 2, no band (held at target)', allocator: { onlineFloor: 2, lowWatermark: 1, highWatermark: 1 } },
];

export const POLICY_SEEDS: readonly number[] = [11, 12, 13];

const pct = (n: number): string => `${(n * 100).toFixed(1)}%`;

/**
 * shelfsync alone on the comparison's day, once per seed and escrow setting:
 * online orders taken against in-store sales served while cut off, and what the
 * hub's writes cost on the wire.
 */
export async function runPolicySweep(
  settings: readonly PolicySetting[] = POLICY_SETTINGS,
  seeds: readonly number[] = POLICY_SEEDS,
): Promise<string> {
  const rows: string[] = [];
  for (const setting of settings) {
    for (const seed of seeds) {
      const run = await runComparison(
        { ...defaultCompareOptions, seed },
        { allocator: AllocatorConfigSchema.parse(setting.allocator), shelfsyncOnly: true },
      );
      const result = run.results[0];
      if (result === undefined) throw new Error('the comparison ran no system');
      rows.push(row(setting.label, seed, result));
    }
  }
  return [
    `Workload: \`pnpm bench compare\`'s day (${defaultCompareOptions.stores} stores, ${defaultCompareOptions.skus} SKUs, ${defaultCompareOptions.hours} virtual hours, every store cut off once, the centre down 20 min), shelfsync alone, per seed.`,
    '',
    '| escrow setting | seed | online orders the shelf could fill, taken | of those placed while the centre was up | not taken: centre down / store cut off / connected | in-store sales served while cut off | refused with the unit in hand | bytes per sale | hub writes per sale |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

function row(label: string, seed: number, r: SystemResult): string {
  const missed = r.onlineMissed;
  const hubWrites = r.shelfsync === undefined || r.sales === 0 ? 0 : r.shelfsync.relayed.hubWrites / r.sales;
  return `| ${label} | ${seed} | ${pct(r.onlineServed)} | ${pct(r.onlineServedCentreUp)} | ${missed.centreDown} / ${missed.storeCutOff} / ${missed.connected} of ${r.onlineCouldFill} | ${pct(r.servedInPartition)} | ${pct(r.refusedWithStock)} | ${Math.round(r.bytesPerSale).toLocaleString('en-US')} | ${hubWrites.toFixed(2)} |`;
}
