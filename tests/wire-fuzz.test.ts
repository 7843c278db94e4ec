import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureText, runCampaign, summaryText } from '../apps/cli/bench/wire-fuzz/campaign.js';
import { FUZZ_CLASSES } from '../apps/cli/bench/wire-fuzz/input.js';
import { startFuzzTargets, type FuzzTargets } from '../apps/cli/bench/wire-fuzz/targets.js';

/**
 * Raw-TCP fuzzing of a real hub and store: broken request lines, header
 * blocks, upgrade handshakes and WebSocket frames. Both processes must live,
 * answer /healthz, pass an honest sale to the hub within a second after every
 * batch, and answer no well-formed request with a 5xx.
 *
 * A failure prints the command that replays its batch, e.g.
 *   SHELFSYNC_FUZZ_SEED=<seed> SHELFSYNC_FUZZ_BATCH=<batch> node scripts/pnpm.mjs exec vitest run tests/wire-fuzz.test.ts
 */
const DEFAULT_SEED = 20_261_130;
const seed =
  process.env.SHELFSYNC_FUZZ_SEED === 'random'
    ? Math.floor(Math.random() * 2 ** 31)
    : Number(process.env.SHELFSYNC_FUZZ_SEED ?? DEFAULT_SEED);
const inputs = Number(process.env.SHELFSYNC_FUZZ_INPUTS ?? 10_000);
const replayBatch = process.env.SHELFSYNC_FUZZ_BATCH;
// A failure in the soak (`pnpm bench fuzz`) replays here with its own batch size and concurrency.
const batchSize = Number(process.env.SHELFSYNC_FUZZ_BATCH_SIZE ?? 500);
const concurrency = Number(process.env.SHELFSYNC_FUZZ_CONCURRENCY ?? 12);

describe('wire-level fuzzing of the hub and a store', () => {
  let targets: FuzzTargets;
  beforeAll(async () => {
    targets = await startFuzzTargets();
  });
  afterAll(async () => {
    await targets.stop();
  });

  it(`survives ${inputs} seeded raw inputs (seed ${seed})`, { timeout: 300_000 }, async () => {
    const report = await runCampaign(targets, {
      seed,
      inputs,
      batchSize,
      concurrency,
      timeoutMs: 1_000,
      ...(replayBatch === undefined ? {} : { fromBatch: Number(replayBatch), batches: 1 }),
    });
    console.log(summaryText(report, targets));
    expect(report.failure, failureText(report)).toBeNull();
    expect(report.wellFormed5xx).toEqual([]);
    if (replayBatch === undefined) {
      expect(report.sent).toBe(inputs);
      // Every class had its share, and some of each class's inputs were answered.
      for (const cls of FUZZ_CLASSES) expect(report.byClass[cls].sent, cls).toBeGreaterThan(inputs / 20);
    }
  });
});
