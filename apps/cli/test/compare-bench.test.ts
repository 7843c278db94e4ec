import { beforeAll, describe, expect, it } from 'vitest';
import {
  comparisonChart,
  comparisonTable,
  runComparison,
  type CompareOptions,
  type ComparisonRun,
  type SystemResult,
} from '../bench/compare-bench.js';

const small: CompareOptions = {
  seed: 3,
  stores: 4,
  skus: 12,
  hours: 4,
  salesPerStoreHour: 60,
  ordersPerStoreHour: 15,
  initialUnits: 8,
};

/** A result without what depends on the host (CPU and wall-clock time): what one seed must reproduce. */
function deterministic(run: ComparisonRun) {
  return run.results.map(({ hubCpuSecondsPer1000: _cpu, ms: _ms, shelfsync, ...rest }) => {
    if (shelfsync === undefined) return rest;
    const { cpu: _samples, chainCpuSecondsPer1000: _chain, loopIdleMs: _idle, ...measured } = shelfsync;
    return { ...rest, shelfsync: measured };
  });
}

describe('the comparison (pnpm bench compare)', () => {
  let run: ComparisonRun;
  beforeAll(async () => {
    run = await runComparison(small);
  }, 120_000);
  const by = (name: string): SystemResult => {
    const found = run.results.find((r) => r.name.startsWith(name));
    if (found === undefined) throw new Error(`no ${name}`);
    return found;
  };

  it('shelfsync, running its real hub and stores, oversells nothing and loses nothing while serving cut-off stores', () => {
    const s = by('shelfsync');
    expect(s.oversold).toBe(0);
    expect(s.lost).toBe(0);
    expect(s.servedInPartition).toBeGreaterThan(0.5);
    expect(s.sales).toBeGreaterThan(0);
    // Every replica converged with the hub, and nothing was refused or broke on the way.
    expect(s.shelfsync?.skusApart).toBe(0);
    expect(s.shelfsync?.incidents).toEqual([]);
  });

  it("shelfsync's bytes are its frames, handshakes, catch-ups and acknowledgements included", () => {
    const s = by('shelfsync');
    const wire = s.shelfsync?.wireBytes;
    for (const kind of ['handshake', 'catch-up', 'store update', 'relay', 'ack', 'framing'] as const) {
      expect(wire?.[kind], kind).toBeGreaterThan(0);
    }
    // Every frame is one the meter knows (an unknown control message would count as an error).
    expect(wire?.error ?? 0).toBe(0);
    const total = Object.values(wire ?? {}).reduce((a, b) => a + b, 0);
    expect(s.bytesPerSale).toBeCloseTo(total / s.sales, 6);
    expect(s.storedBytesPerSku).toBeGreaterThan(0);
    expect(s.storeBytesPerSku).toBeGreaterThan(0);
    expect(s.hubCpuSecondsPer1000).toBeGreaterThan(0);
  });

  it('the baselines show the trade-offs they are known for', () => {
    // Central CP: consistent, and unavailable to a cut-off till.
    expect(by('central CP')).toMatchObject({ oversold: 0, lost: 0, servedInPartition: 0 });
    // Legacy: every till sale served locally, the storefront up to a sync interval (or an outage) behind.
    expect(by('legacy').servedInPartition).toBe(1);
    expect(by('legacy').stalenessP99Min).toBeGreaterThan(by('shelfsync').stalenessMeanMin);
    expect(new Set(run.results.map((r) => r.name)).size).toBe(4);
  });

  it('no system takes an online order while the centre is down: its storefront is down with it', () => {
    for (const r of run.results) {
      expect(r.onlineCouldFill, r.name).toBeGreaterThan(r.onlineCouldFillCentreUp);
      expect(r.onlineMissed.centreDown, r.name).toBe(r.onlineCouldFill - r.onlineCouldFillCentreUp);
      expect(r.onlineServedCentreUp, r.name).toBeGreaterThanOrEqual(r.onlineServed);
    }
  });

  it('is deterministic for a seed, bytes included, and renders a table and a chart', async () => {
    const again = await runComparison(small);
    expect(deterministic(again)).toEqual(deterministic(run));
    const table = comparisonTable(run, small);
    expect(table).toContain('| measure | legacy (15-min sync) | naive LWW sync | central CP | shelfsync |');
    expect(table).toContain('| stored bytes per SKU at a store |');
    expect(table).toContain('| handshakes (hello, welcome) |');
    expect(comparisonChart(run)).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
  }, 120_000);
});
