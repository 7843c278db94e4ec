import { describe, expect, it } from 'vitest';
import { computeStock } from '../src/index.js';
import { assertSafe } from './support/replica.js';
import { runGrowthWorkload, runWideWorkload } from './support/workload.js';

describe('document growth', () => {
  it('the encoded state of one SKU after 100,000 operations by 20 accounts stays bounded', () => {
    const { samples, hub } = runGrowthWorkload({
      stores: 10,
      total: 100_000,
      syncEvery: 250,
      sampleAt: [10, 1_000, 10_000, 100_000],
      seed: 7,
    });
    const [at10, at1k, at10k, at100k] = samples.map((s) => s.bytes);
    console.info(`encoded SKU document: ${samples.map((s) => `${s.operations} ops = ${s.bytes} B`).join(', ')}`);
    assertSafe(computeStock(hub.doc));
    // Size follows writers and client ids, not operations: 100x the operations
    // may not cost more than a few hundred bytes over the 1,000-operation size.
    expect(at100k).toBeLessThan(8 * 1024);
    expect(at100k! - at1k!).toBeLessThan(512);
    expect(at10k! - at1k!).toBeLessThan(512);
    expect(at10).toBeLessThan(at1k!);
  });

  it('schema version 2: a hub writing 100 online accounts, each under its own client id, keeps the document bounded', () => {
    // The full-size run (100,000 hub writes over 500 accounts, next to version 1) is in the core bench.
    const run = runWideWorkload({
      version: 2,
      accounts: 100,
      hubWrites: 20_000,
      storeEvery: 5,
      seed: 7,
      sampleAt: [2_000, 20_000],
    });
    const [at2k, at20k] = run.samples.map((s) => s.bytes);
    console.info(
      `version 2, 100 online accounts: ${run.samples.map((s) => `${s.operations} hub writes = ${s.bytes} B`).join(', ')}; ` +
        `${(run.hubUpdateBytes / run.hubWrites).toFixed(0)} B per hub update`,
    );
    assertSafe(computeStock(run.hub));
    expect(at20k).toBeLessThan(64 * 1024);
    expect(at20k! - at2k!).toBeLessThan(4 * 1024);
    expect(run.hubUpdateBytes / run.hubWrites).toBeLessThan(256);
  });
});
