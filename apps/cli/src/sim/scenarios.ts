import { seededRandom } from '@shelfsync/protocol';
import { z } from 'zod';

/** The hub nodes of the cluster mode, in order: a fault step names a node by its index here. */
export const HUB_NODE_NAMES = ['a', 'b', 'c'] as const;

/**
 * A fault schedule: what happens to which store's link or process, and when.
 * Times are milliseconds from the start of the workload. Stores are named by
 * index (0 = the first store). Pure data: the same seed and scenario give the
 * same schedule.
 */
const At = z
  .int()
  .min(0)
  .max(24 * 3_600_000);
const StoreIndex = z.int().min(0).max(63);
/** A hub node of the cluster mode, by index (0 = the first node, "a"). */
const NodeIndex = z
  .int()
  .min(0)
  .max(HUB_NODE_NAMES.length - 1);
export const FaultStepSchema = z.discriminatedUnion('fault', [
  /** Silent partition: the store's connections stay open, no byte moves. */
  z.strictObject({ atMs: At, fault: z.literal('hold'), store: StoreIndex }),
  /** Loud partition: every connection dropped, new ones refused. */
  z.strictObject({ atMs: At, fault: z.literal('reset'), store: StoreIndex }),
  /** Ends a hold, a reset or flapping, and clears latency and bandwidth limits. */
  z.strictObject({ atMs: At, fault: z.literal('restore'), store: StoreIndex }),
  z.strictObject({
    atMs: At,
    fault: z.literal('degrade'),
    store: StoreIndex,
    latencyMs: z.int().min(0).max(60_000),
    jitterMs: z.int().min(0).max(60_000).default(0),
    /** Bytes per second per direction; 0: unlimited. */
    bandwidth: z.int().min(0).default(0),
  }),
  /** Alternates up and reset until restored. */
  z.strictObject({
    atMs: At,
    fault: z.literal('flap'),
    store: StoreIndex,
    upMs: z.int().min(50).max(600_000),
    downMs: z.int().min(50).max(600_000),
  }),
  /** kill -9 of a store process; it stays down until restarted (from its data directory). */
  z.strictObject({ atMs: At, fault: z.literal('kill-store'), store: StoreIndex }),
  z.strictObject({ atMs: At, fault: z.literal('restart-store'), store: StoreIndex }),
  /** kill -9 of the hub; it stays down until restarted (same port, same data). */
  z.strictObject({ atMs: At, fault: z.literal('kill-hub') }),
  z.strictObject({ atMs: At, fault: z.literal('restart-hub') }),
  /** Cluster mode: kill -9 of one hub node; the others take its shards once its leases lapse. */
  z.strictObject({ atMs: At, fault: z.literal('kill-node'), node: NodeIndex }),
  z.strictObject({ atMs: At, fault: z.literal('restart-node'), node: NodeIndex }),
  /**
   * Cluster mode: one hub node loses PostgreSQL at its database proxy, loudly
   * (reset: connections dropped, new ones refused) or silently (hold: no byte moves).
   */
  z.strictObject({
    atMs: At,
    fault: z.literal('cut-db'),
    node: NodeIndex,
    mode: z.enum(['reset', 'hold']).default('reset'),
  }),
  z.strictObject({ atMs: At, fault: z.literal('restore-db'), node: NodeIndex }),
]);
export type FaultStep = z.infer<typeof FaultStepSchema>;

/** A schedule as a JSON file gives it. */
export const FaultScheduleFileSchema = z.strictObject({
  description: z.string().max(500).optional(),
  steps: z.array(FaultStepSchema).max(10_000),
});

export const SCENARIOS = [
  'single-store-offline',
  'split-brain-half',
  'hub-down',
  'flapping',
  'crash-restart',
  'random',
  'hub-failover',
  'db-partition',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export function isScenarioName(value: string): value is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(value);
}

/** Scenarios that need the cluster mode: three hub nodes on a PostgreSQL server of the run's own. */
export const CLUSTER_SCENARIOS: readonly ScenarioName[] = ['hub-failover', 'db-partition'];

/** Whether a schedule acts on hub nodes or their database, so needs the cluster mode. */
export function needsCluster(steps: readonly FaultStep[]): boolean {
  return steps.some((step) => 'node' in step);
}

/** What each named scenario does, for --help and the report. */
export const scenarioDescriptions: Readonly<Record<ScenarioName, string>> = {
  'single-store-offline': 'the first store is cut off (held) from 20% to 60% of the run',
  'split-brain-half': 'half the stores lose the hub (reset) from 20% to 70% of the run',
  'hub-down': 'the hub is killed (kill -9) at 30% and restarted from disk at 60%',
  flapping: 'every store link flaps and lags (latency with jitter) from 10% to 80%',
  'crash-restart': 'stores and then the hub are killed (kill -9) and restarted from disk, one at a time',
  random: 'a seeded mix of every fault, at most one per store (and the hub) at a time',
  'hub-failover':
    'three hub nodes on PostgreSQL: one is killed (kill -9) at 20% and restarted at 50%, another at 60% and 85% (seeded)',
  'db-partition': 'three hub nodes on PostgreSQL: one (seeded) is cut from the database at 25% and reconnected at 60%',
};

/** The schedule of a named scenario for `stores` stores over `durationMs`. */
export function scenarioSchedule(
  name: ScenarioName,
  options: { stores: number; durationMs: number; seed: number },
): FaultStep[] {
  const { stores, durationMs: d, seed } = options;
  const at = (fraction: number): number => Math.round(d * fraction);
  const all = Array.from({ length: stores }, (_, i) => i);
  switch (name) {
    case 'single-store-offline':
      return [
        { atMs: at(0.2), fault: 'hold', store: 0 },
        { atMs: at(0.6), fault: 'restore', store: 0 },
      ];
    case 'split-brain-half': {
      const half = all.slice(0, Math.max(1, Math.floor(stores / 2)));
      return [
        ...half.map((store): FaultStep => ({ atMs: at(0.2), fault: 'reset', store })),
        ...half.map((store): FaultStep => ({ atMs: at(0.7), fault: 'restore', store })),
      ];
    }
    case 'hub-down':
      return [
        { atMs: at(0.3), fault: 'kill-hub' },
        { atMs: at(0.6), fault: 'restart-hub' },
      ];
    case 'flapping':
      return [
        ...all.flatMap((store): FaultStep[] => [
          { atMs: at(0.1), fault: 'degrade', store, latencyMs: 40, jitterMs: 60, bandwidth: 0 },
          { atMs: at(0.1), fault: 'flap', store, upMs: 700 + 150 * store, downMs: 400 + 100 * store },
        ]),
        ...all.map((store): FaultStep => ({ atMs: at(0.8), fault: 'restore', store })),
      ];
    case 'crash-restart':
      return [
        { atMs: at(0.15), fault: 'kill-store', store: 0 },
        { atMs: at(0.3), fault: 'restart-store', store: 0 },
        { atMs: at(0.4), fault: 'kill-store', store: stores > 1 ? 1 : 0 },
        { atMs: at(0.5), fault: 'restart-store', store: stores > 1 ? 1 : 0 },
        { atMs: at(0.6), fault: 'kill-hub' },
        { atMs: at(0.7), fault: 'restart-hub' },
      ];
    case 'random':
      return randomSchedule(seed, stores, d);
    case 'hub-failover': {
      const first = seed % HUB_NODE_NAMES.length;
      const second = (first + 1 + (Math.floor(seed / HUB_NODE_NAMES.length) % 2)) % HUB_NODE_NAMES.length;
      return [
        // Each node stays down for a quarter of the run or more: past its leases' 4 s in a 20 s run.
        { atMs: at(0.2), fault: 'kill-node', node: first },
        { atMs: at(0.5), fault: 'restart-node', node: first },
        { atMs: at(0.6), fault: 'kill-node', node: second },
        { atMs: at(0.85), fault: 'restart-node', node: second },
      ];
    }
    case 'db-partition': {
      const node = seed % HUB_NODE_NAMES.length;
      // Odd seeds cut silently: the node's queries hang instead of failing fast.
      const mode = seed % 2 === 0 ? 'reset' : 'hold';
      return [
        { atMs: at(0.25), fault: 'cut-db', node, mode },
        { atMs: at(0.6), fault: 'restore-db', node },
      ];
    }
  }
}

/**
 * A seeded mix: per target (each store, and the hub) a sequence of fault
 * windows separated by healthy gaps, each window 5-25% of the run, all ending
 * before 85% of it so the run ends healed.
 */
function randomSchedule(seed: number, stores: number, d: number): FaultStep[] {
  const random = seededRandom(seed ^ 0x5eed);
  const steps: FaultStep[] = [];
  const window = (): [number, number] => [Math.round(d * (0.05 + random() * 0.2)), Math.round(d * random() * 0.15)];
  for (let store = 0; store < stores; store++) {
    let t = Math.round(d * random() * 0.2);
    for (;;) {
      const [length, gap] = window();
      if (t + length > d * 0.85) break;
      const kind = Math.floor(random() * 5);
      if (kind === 0) steps.push({ atMs: t, fault: 'hold', store }, { atMs: t + length, fault: 'restore', store });
      else if (kind === 1)
        steps.push({ atMs: t, fault: 'reset', store }, { atMs: t + length, fault: 'restore', store });
      else if (kind === 2) {
        steps.push(
          {
            atMs: t,
            fault: 'flap',
            store,
            upMs: 300 + Math.round(random() * 900),
            downMs: 200 + Math.round(random() * 600),
          },
          { atMs: t + length, fault: 'restore', store },
        );
      } else if (kind === 3) {
        steps.push(
          {
            atMs: t,
            fault: 'degrade',
            store,
            latencyMs: Math.round(random() * 150),
            jitterMs: Math.round(random() * 100),
            bandwidth: 0,
          },
          { atMs: t + length, fault: 'restore', store },
        );
      } else {
        steps.push({ atMs: t, fault: 'kill-store', store }, { atMs: t + length, fault: 'restart-store', store });
      }
      t += length + gap;
    }
  }
  if (random() < 0.6) {
    const start = Math.round(d * (0.2 + random() * 0.4));
    steps.push({ atMs: start, fault: 'kill-hub' }, { atMs: start + Math.round(d * 0.1), fault: 'restart-hub' });
  }
  return steps.sort((a, b) => a.atMs - b.atMs);
}
