import { describe, expect, it } from 'vitest';
import { comparisonChart, comparisonTable, runComparison, type CompareOptions } from '../bench/compare-bench.js';

const small: CompareOptions = {
  seed: 3,
  stores: 4,
  skus: 12,
  hours: 4,
  salesPerStoreHour: 60,
  ordersPerStoreHour: 15,
  initialUnits: 8,
};

describe('the comparison model (pnpm bench compare)', () => {
  const run = runComparison(small);
  const by = (name: string) => {
    const found = run.results.find((r) => r.name.startsWith(name));
    if (found === undefined) throw new Error(`no ${name}`);
    return found;
  };

  it('shelfsync, on its real core and escrow policy, oversells nothing and loses nothing while serving cut-off stores', () => {
    const s = by('shelfsync');
    expect(s.oversold).toBe(0);
    expect(s.lost).toBe(0);
    expect(s.servedInPartition).toBeGreaterThan(0.5);
    expect(s.sales).toBeGreaterThan(0);
  });

  it('the baselines show the trade-offs they are known for', () => {
    // Central CP: consistent, and unavailable to a cut-off till.
    expect(by('central CP')).toMatchObject({ oversold: 0, lost: 0, servedInPartition: 0 });
    // Legacy: every till sale served locally, the storefront up to a sync interval (or an outage) behind.
    expect(by('legacy').servedInPartition).toBe(1);
    expect(by('legacy').stalenessP99Min).toBeGreaterThan(by('shelfsync').stalenessMeanMin);
    // Every system saw the same day: the same sale attempts.
    expect(new Set(run.results.map((r) => r.name)).size).toBe(4);
  });

  it('is deterministic for a seed, and renders a table and a chart', () => {
    const again = runComparison(small);
    const strip = (r: typeof run) => r.results.map(({ hubCpuSecondsPer1000: _, ...rest }) => rest);
    expect(strip(again)).toEqual(strip(run));
    expect(comparisonTable(run, small)).toContain(
      '| measure | legacy (15-min sync) | naive LWW sync | central CP | shelfsync |',
    );
    expect(comparisonChart(run)).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
  });
});
