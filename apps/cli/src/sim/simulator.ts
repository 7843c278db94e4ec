import { checkHistory, type FinalSku, type HistoryEvent, type Verdict } from '@shelfsync/checker';
import { FaultDriver, type AppliedFault } from './faults.js';
import { HistoryRecorder } from './history.js';
import { awaitConvergence, readReplicas } from './replicas.js';
import type { FaultStep } from './scenarios.js';
import { SimClient } from './sim-client.js';
import { SimCluster } from './sim-cluster.js';
import type { Takeover } from './sim-hub-nodes.js';
import { serviceReport, type ServiceReport } from './sim-metrics.js';
import { delay, waitFor } from './wait.js';
import { INITIAL_UNITS, Workload, type Operation } from './workload.js';

export interface SimOptions {
  readonly scenario: string;
  readonly description: string;
  readonly schedule: readonly FaultStep[];
  readonly seed: number;
  readonly stores: number;
  readonly durationMs: number;
  /** Operations per second, across stores and the online channel. */
  readonly rate: number;
  readonly skus: number;
  /** Manager override at every store and the hub (0: off); a tenth of the sales then ask for it. */
  readonly overrideCap: number;
  readonly dataDir: string;
  /** Three hub nodes on a PostgreSQL server of the run's own (hub-failover, db-partition, --cluster). */
  readonly cluster?: boolean;
  /** Called about once a second with a one-line status, and once at each phase. */
  readonly progress: (line: string) => void;
  /** Called once the processes run, with what stops them all (for an interrupted run). */
  readonly started?: (stop: () => Promise<void>) => void;
}

/** The run's settings as given, then what happened. */
export interface SimReport extends Pick<
  SimOptions,
  'scenario' | 'description' | 'seed' | 'stores' | 'durationMs' | 'rate' | 'skus' | 'overrideCap' | 'schedule'
> {
  /** Each fault as applied: when (ms from the workload's start) and what. */
  readonly faults: readonly AppliedFault[];
  /** Cluster mode: the hub nodes, and how long each downed node's shards took to be served by the others. */
  readonly cluster?: { readonly nodes: readonly string[]; readonly takeovers: readonly Takeover[] };
  readonly operations: {
    readonly invoked: number;
    readonly byKind: Readonly<Record<string, { ok: number; fail: number; unknown: number }>>;
    /** Operations without an answer during the run, retried with the same idempotency key after the heal. */
    readonly retried: number;
    /** Of those, answered from the idempotency record: applied before the fault, not applied again. */
    readonly retriedReplayed: number;
    /** Units sold under the manager override beyond the stores' rights (with --override-cap). */
    readonly overriddenUnits: number;
  };
  /** Refusals by cause, own-stock refusals, in-store sales while cut off, online orders served. */
  readonly service: ServiceReport;
  readonly converged: boolean;
  readonly verdict: Verdict;
  readonly replicas: Readonly<Record<string, Readonly<Record<string, FinalSku>>>>;
  readonly history: readonly HistoryEvent[];
}

/** Reservations expire quickly, so expiries happen inside a run. */
const RESERVATION_TTL_MS = 3_000;
const MAX_IN_FLIGHT = 64;
const QUIESCENCE_TIMEOUT_MS = 90_000;

/**
 * A partition test with real processes: a hub (or three hub nodes on
 * PostgreSQL, in cluster mode) and N stores, each store behind
 * its own TCP fault proxy, a seeded workload through the stores' POS APIs and
 * the hub's reservation API, a seeded fault schedule, then a heal, a retry of
 * every unanswered operation under its idempotency key, and a Jepsen-style check
 * of the recorded history against every replica's final state.
 */
export async function runSimulation(options: SimOptions): Promise<SimReport> {
  const cluster = await SimCluster.start({
    seed: options.seed,
    stores: options.stores,
    dataDir: options.dataDir,
    overrideCap: options.overrideCap,
    reservationTtlMs: RESERVATION_TTL_MS,
    cluster: options.cluster === true,
  });
  options.started?.(() => cluster.close());
  const { storeIds } = cluster;
  const client = new SimClient(cluster.apiToken);
  const workload = new Workload(
    {
      seed: options.seed,
      storeIds,
      skus: options.skus,
      overrideCap: options.overrideCap,
      managerToken: cluster.managerToken,
    },
    cluster,
  );
  const { skus } = workload;
  const recorder = new HistoryRecorder();
  const inFlight = new Set<Promise<void>>();
  const track = (running: Promise<void>): void => {
    const tracked = running.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };
  /** Sends a few operations at once without waiting for them; lets the requests reach the process, not their answers come back. */
  const burst = async (store: number | null, node?: number): Promise<void> => {
    for (const op of workload.burst(store, node)) track(perform(op));
    await delay(2);
  };
  const faults = new FaultDriver(options.schedule, cluster, burst);

  /** Sends one operation and records its invoke and its end. */
  async function perform(op: Operation, retry = false): Promise<void> {
    recorder.invoke(op, retry, op.store !== undefined && faults.isCut(op.store));
    const made = recorder.end(op, await client.post(op), retry);
    if (made !== undefined) workload.hold(made);
  }

  try {
    for (let i = 0; i < storeIds.length; i++) {
      await waitFor(
        `store ${storeIds[i] ?? ''} ready`,
        30_000,
        async () => (await client.get(`${cluster.storeUrl(i)}/readyz`)).status === 200,
      );
    }

    // Setup: every store receives every SKU; the allocator then escrows part of each shelf online.
    options.progress(`setup: ${storeIds.length} stores receive ${INITIAL_UNITS} of each of ${skus.length} SKUs`);
    for (const op of workload.setup()) await perform(op);

    // The workload and the fault schedule, on one clock.
    const started = Date.now();
    const elapsed = (): number => Date.now() - started;
    let issued = 0;
    let lastProgress = 0;
    const status = (): string => {
      const counts = recorder.counts();
      return `[${(elapsed() / 1000).toFixed(1).padStart(5)}s / ${(options.durationMs / 1000).toFixed(0)}s] ops ${recorder.ends.size} (ok ${counts.ok}, fail ${counts.fail}, unknown ${counts.unknown}), in flight ${inFlight.size} | faults: ${faults.describe()}`;
    };
    while (elapsed() < options.durationMs) {
      await faults.applyDue(elapsed);
      const due = Math.floor((elapsed() / 1000) * options.rate);
      while (issued < due && inFlight.size < MAX_IN_FLIGHT) {
        const op = workload.next(issued++);
        if (op === null) continue;
        track(perform(op));
      }
      if (elapsed() - lastProgress >= 1_000) {
        lastProgress = elapsed();
        options.progress(status());
      }
      await delay(5);
    }
    await Promise.all(inFlight);
    options.progress(status());

    // Heal: every link restored, every process back up.
    options.progress('heal: links restored, processes restarted');
    await faults.heal();
    for (let i = 0; i < storeIds.length; i++) {
      await waitFor(`store ${storeIds[i] ?? ''} reconnected`, 30_000, async () => {
        const body = (await client.get(`${cluster.storeUrl(i)}/v1/status`)).body;
        return (body.hub as { connected?: boolean } | undefined)?.connected === true;
      });
    }

    // Every operation that got no answer is retried with its idempotency key: exactly once, or not at all.
    const unanswered = recorder.unanswered();
    options.progress(`retry: ${unanswered.length} unanswered operations, same idempotency keys`);
    for (const op of unanswered) if (op !== undefined) await perform(op, true);

    // Expiries: wait out every held reservation's TTL, then record the ones that expired.
    const reservationUrl = (id: string): string => `${cluster.hubUrl}/v1/reservations/${id}`;
    await waitFor('held reservations to end', RESERVATION_TTL_MS * 4 + 10_000, async () => {
      for (const r of recorder.reservations) {
        const found = await client.get(reservationUrl(r.id), true);
        if (found.status !== 200 || found.body.state === 'held') return false;
      }
      return true;
    });
    for (const r of recorder.reservations) {
      if ((await client.get(reservationUrl(r.id), true)).body.state === 'expired') recorder.expired(r);
    }

    // Quiescence: every replica derives the same totals from the same operations (or the timeout says they do not).
    options.progress('quiescence: waiting for every replica to hold the same documents');
    const { replicas, converged } = await awaitConvergence(
      () => readReplicas(client, cluster, storeIds, skus),
      QUIESCENCE_TIMEOUT_MS,
    );

    const history = recorder.events;
    const verdict = checkHistory(history, replicas, { overrideCap: options.overrideCap });
    const byKind = recorder.byKind();
    return {
      scenario: options.scenario,
      description: options.description,
      seed: options.seed,
      stores: options.stores,
      durationMs: options.durationMs,
      rate: options.rate,
      skus: options.skus,
      overrideCap: options.overrideCap,
      schedule: options.schedule,
      faults: faults.applied,
      ...(options.cluster === true
        ? { cluster: { nodes: cluster.hubs.map((h) => h.name), takeovers: cluster.takeovers } }
        : {}),
      operations: {
        invoked: recorder.operations.size,
        byKind,
        retried: unanswered.length,
        retriedReplayed: recorder.retriedReplayed,
        overriddenUnits: recorder.overriddenUnits,
      },
      service: serviceReport(verdict, byKind, recorder.ends, recorder.soldWhileCut),
      converged,
      verdict,
      replicas,
      history,
    };
  } finally {
    await cluster.close();
  }
}
