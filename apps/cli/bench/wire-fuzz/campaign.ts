import { CheckFailure, checkTargets, stockHonestStore } from './checks.js';
import { generateInput } from './generate.js';
import { FUZZ_CLASSES, preview, type FuzzClass, type FuzzInput } from './input.js';
import { type FrameSession, sendInput, type Outcome } from './send-input.js';
import type { FuzzTargets } from './targets.js';

export interface CampaignOptions {
  readonly seed: number;
  /** Inputs to send in all (the last batch may be short). */
  readonly inputs: number;
  readonly batchSize: number;
  /** Connections in flight at once. */
  readonly concurrency: number;
  /** Give up waiting for an answer after this long (not a failure: some inputs leave a server waiting). */
  readonly timeoutMs: number;
  /** Start at this batch (to replay one): inputs are numbered from `fromBatch * batchSize`. */
  readonly fromBatch?: number;
  /** Stop after this many batches (with `fromBatch`, to replay only the failing one). */
  readonly batches?: number;
  /** Stop starting batches after this many ms: the soak is bounded in time as well as in inputs. */
  readonly maxMs?: number;
  /** Send only inputs of these classes (the others' numbers are skipped, so the rest replay unchanged). */
  readonly classes?: readonly FuzzClass[];
  readonly onBatch?: (report: CampaignReport) => void;
}

export interface ClassStats {
  sent: number;
  /** Answers by status class: "1xx", "2xx", ..., "none". */
  statuses: Record<string, number>;
  timeouts: number;
  /** Frame inputs the server read to the end and answered the ping of, keeping the connection. */
  survived: number;
  wellFormed: number;
  kinds: Record<string, number>;
}

/** What a run found: counters, and the first failure with what it takes to replay it. */
export interface CampaignReport {
  seed: number;
  sent: number;
  batches: number;
  elapsedMs: number;
  byClass: Record<FuzzClass, ClassStats>;
  /** Well-formed inputs answered 5xx: each one a failure. */
  wellFormed5xx: string[];
  /** Malformed inputs answered 5xx (the first 50): a 4xx was due, but the process lived. */
  malformed5xx: string[];
  /** All malformed inputs answered 5xx, counted by status, class and kind. */
  malformed5xxByKind: Record<string, number>;
  /** The slowest honest sale to reach the hub, in ms. */
  maxSaleMs: number;
  failure: { batch: number; reason: string; replay: string; inFlight: string[] } | null;
}

export function describeInput(input: FuzzInput): string {
  const frames =
    input.frames.length === 0
      ? ''
      : ` + ${input.frames.length} frame(s): ${input.frames.map((f) => preview(f, 40)).join(' | ')}`;
  return `#${input.index} ${input.cls}/${input.kind} -> ${input.target}${input.end ? '' : ' (left open)'}: ${preview(input.request)}${frames}`;
}

function emptyStats(): Record<FuzzClass, ClassStats> {
  return Object.fromEntries(
    FUZZ_CLASSES.map((c) => [c, { sent: 0, statuses: {}, timeouts: 0, survived: 0, wellFormed: 0, kinds: {} }]),
  ) as Record<FuzzClass, ClassStats>;
}

function record(report: CampaignReport, input: FuzzInput, outcome: Outcome): void {
  const stats = report.byClass[input.cls];
  stats.sent += 1;
  stats.kinds[input.kind] = (stats.kinds[input.kind] ?? 0) + 1;
  const bucket = outcome.status === null ? 'none' : `${Math.floor(outcome.status / 100)}xx`;
  stats.statuses[bucket] = (stats.statuses[bucket] ?? 0) + 1;
  if (outcome.ended === 'timeout') stats.timeouts += 1;
  if (outcome.ended === 'pong') stats.survived += 1;
  if (input.wellFormed) stats.wellFormed += 1;
  if (outcome.status !== null && outcome.status >= 500) {
    const list = input.wellFormed ? report.wellFormed5xx : report.malformed5xx;
    if (list.length < 50) list.push(`${outcome.status} for ${describeInput(input)}`);
    if (!input.wellFormed) {
      const key = `${outcome.status} ${input.cls}/${input.kind}`;
      report.malformed5xxByKind[key] = (report.malformed5xxByKind[key] ?? 0) + 1;
    }
  }
  report.sent += 1;
}

/** The sync session a worker's last sync-frame input left open, if any. */
interface SessionSlot {
  session: FrameSession | null;
}

/**
 * Sends one input. A sync session the server kept carries the worker's next
 * sync-frame input without a new handshake (the session's hello stands for the
 * input's own): most garbage frames leave a session open, and a handshake costs
 * the hub more than the frames.
 */
async function send(targets: FuzzTargets, input: FuzzInput, slot: SessionSlot, timeoutMs: number): Promise<Outcome> {
  if (input.cls === 'sync-frame' && slot.session !== null && !slot.session.closed) {
    const ended = await slot.session.exchange(input.frames.slice(1), timeoutMs);
    if (ended !== 'pong') {
      slot.session.destroy();
      slot.session = null;
    }
    return { status: 101, ended };
  }
  const port = input.target === 'hub' ? targets.hub.port : targets.store.port;
  const address = `127.0.0.${2 + (input.index % 250)}`;
  const sent = await sendInput(input, port, address, timeoutMs, input.cls === 'sync-frame');
  if (sent.session !== null) {
    slot.session?.destroy();
    slot.session = sent.session;
  }
  return sent.outcome;
}

/** The command line that replays batch `batch` of a run: the same inputs, on the same workers. */
export function replayCommand(options: CampaignOptions, batch: number): string {
  return [
    `SHELFSYNC_FUZZ_SEED=${options.seed}`,
    `SHELFSYNC_FUZZ_BATCH=${batch}`,
    `SHELFSYNC_FUZZ_BATCH_SIZE=${options.batchSize}`,
    `SHELFSYNC_FUZZ_CONCURRENCY=${options.concurrency}`,
    'node scripts/pnpm.mjs exec vitest run tests/wire-fuzz.test.ts',
  ].join(' ');
}

/**
 * Sends `inputs` generated inputs in batches to the hub and the store, with
 * `concurrency` connections in flight, each from one of many loopback
 * addresses (so neither the hub's per-client rate limit nor the ephemeral port
 * range runs out). After each batch it runs the checks; it stops at the first
 * failure, or at once when a process exits, and reports what was in flight.
 */
export async function runCampaign(targets: FuzzTargets, options: CampaignOptions): Promise<CampaignReport> {
  const started = performance.now();
  const report: CampaignReport = {
    seed: options.seed,
    sent: 0,
    batches: 0,
    elapsedMs: 0,
    byClass: emptyStats(),
    wellFormed5xx: [],
    malformed5xx: [],
    malformed5xxByKind: {},
    maxSaleMs: 0,
    failure: null,
  };
  const inFlight = new Map<number, FuzzInput>();
  let died: string[] | null = null;
  const onExit = (): void => {
    died ??= [...inFlight.values()].map(describeInput);
  };
  targets.hub.child.once('exit', onExit);
  targets.store.child.once('exit', onExit);
  const firstBatch = options.fromBatch ?? 0;
  const lastBatch = Math.min(Math.ceil(options.inputs / options.batchSize), firstBatch + (options.batches ?? Infinity));
  try {
    await stockHonestStore(targets);
    for (let batch = firstBatch; batch < lastBatch; batch += 1) {
      if (options.maxMs !== undefined && performance.now() - started > options.maxMs) break;
      const from = batch * options.batchSize;
      const end = Math.min(from + options.batchSize, options.inputs);
      // Worker w sends inputs w, w + concurrency, ... of the batch, in order: which
      // inputs share a kept sync session depends on the seed and the servers only.
      const worker = async (w: number): Promise<void> => {
        const slot: SessionSlot = { session: null };
        for (let index = from + w; index < end && died === null; index += options.concurrency) {
          const input = generateInput(options.seed, index, targets.context);
          if (options.classes !== undefined && !options.classes.includes(input.cls)) continue;
          inFlight.set(index, input);
          record(report, input, await send(targets, input, slot, options.timeoutMs));
          inFlight.delete(index);
        }
        slot.session?.destroy();
      };
      await Promise.all(Array.from({ length: options.concurrency }, (_, w) => worker(w)));
      report.batches += 1;
      try {
        if (died !== null) throw new CheckFailure('a process exited during the batch');
        if (report.wellFormed5xx.length > 0)
          throw new CheckFailure(`well-formed input answered 5xx: ${report.wellFormed5xx[0] ?? ''}`);
        const saleMs = await checkTargets(targets, batch, report.batches - 1);
        report.maxSaleMs = Math.max(report.maxSaleMs, saleMs);
      } catch (error) {
        if (!(error instanceof CheckFailure)) throw error;
        const dead = [targets.hub, targets.store].find((p) => !p.alive);
        report.failure = {
          batch,
          reason:
            dead === undefined
              ? error.message
              : `${dead.name} exited (${JSON.stringify(dead.exit)}); its last log lines:\n${dead.tail()}`,
          replay: replayCommand(options, batch),
          inFlight: died ?? [],
        };
        break;
      } finally {
        report.elapsedMs = performance.now() - started;
        options.onBatch?.(report);
      }
    }
  } finally {
    targets.hub.child.off('exit', onExit);
    targets.store.child.off('exit', onExit);
    report.elapsedMs = performance.now() - started;
  }
  return report;
}

/** A readable account of a failed run: the seed, the batch, the replay command and the suspects. */
export function failureText(report: CampaignReport): string {
  const failure = report.failure;
  if (failure === null) return 'no failure';
  return [
    `wire fuzz failed in batch ${failure.batch} of seed ${report.seed}: ${failure.reason}`,
    `replay: ${failure.replay}`,
    ...(failure.inFlight.length > 0
      ? ['inputs in flight when the process exited:', ...failure.inFlight.map((s) => `  ${s}`)]
      : []),
  ].join('\n');
}

/** A few lines on what a run sent and what came back. */
export function summaryText(report: CampaignReport, targets: FuzzTargets): string {
  const rate = report.sent / (report.elapsedMs / 1000);
  return [
    `wire fuzz seed ${report.seed}: ${report.sent} inputs in ${report.batches} batches, ${(report.elapsedMs / 1000).toFixed(1)} s (${Math.round(rate)}/s); slowest honest sale to the hub ${Math.round(report.maxSaleMs)} ms`,
    ...FUZZ_CLASSES.map((cls) => {
      const s = report.byClass[cls];
      return `  ${cls}: ${s.sent} sent (${s.wellFormed} well-formed), answers ${JSON.stringify(s.statuses)}, ${s.survived} kept the connection, ${s.timeouts} timed out`;
    }),
    `  5xx: ${report.wellFormed5xx.length} to well-formed inputs; to malformed ones ${JSON.stringify(report.malformed5xxByKind)}${report.malformed5xx.length > 0 ? `, e.g. ${report.malformed5xx[0] ?? ''}` : ''}`,
    `  hub stderr ${targets.hub.stderrBytes} B, store stderr ${targets.store.stderrBytes} B`,
  ].join('\n');
}
