import { describe, expect, it } from 'vitest';
import { FaultDriver, type FaultTarget } from '../src/sim/faults.js';
import {
  CLUSTER_SCENARIOS,
  FaultScheduleFileSchema,
  SCENARIOS,
  needsCluster,
  scenarioSchedule,
  type FaultStep,
} from '../src/sim/scenarios.js';
import { SimInputError, SimOptionsSchema, clusterMode, requirePostgres } from '../src/sim/sim-command.js';

/** Whether every fault a schedule starts is ended (restored, restarted) before `durationMs`. */
function healsBefore(steps: readonly FaultStep[], durationMs: number): boolean {
  const open = new Set<string>();
  for (const step of steps) {
    if (step.atMs > durationMs) return false;
    const target = 'store' in step ? `store ${step.store}` : 'node' in step ? `node ${step.node}` : 'hub';
    const ends = ['restore', 'restart-store', 'restart-hub', 'restart-node', 'restore-db'];
    if (ends.includes(step.fault)) open.delete(target);
    else open.add(target);
  }
  return open.size === 0;
}

describe('fault scenarios', () => {
  for (const name of SCENARIOS) {
    it(`${name}: in time order, within the run, on existing stores, healed before the end, the same for the same seed`, () => {
      for (const stores of [1, 3, 5]) {
        const steps = scenarioSchedule(name, { stores, durationMs: 30_000, seed: 7 });
        expect(steps.length).toBeGreaterThan(0);
        expect(steps.map((s) => s.atMs)).toEqual([...steps.map((s) => s.atMs)].sort((a, b) => a - b));
        for (const step of steps) if ('store' in step) expect(step.store).toBeLessThan(stores);
        expect(healsBefore(steps, 30_000)).toBe(true);
        expect(FaultScheduleFileSchema.parse({ steps })).toEqual({ steps });
        expect(scenarioSchedule(name, { stores, durationMs: 30_000, seed: 7 })).toEqual(steps);
      }
    });
  }

  it('random: another seed, another schedule; a store never has two faults at once', () => {
    const a = scenarioSchedule('random', { stores: 4, durationMs: 60_000, seed: 1 });
    const b = scenarioSchedule('random', { stores: 4, durationMs: 60_000, seed: 2 });
    expect(a).not.toEqual(b);
    for (const steps of [a, b]) {
      const faulty = new Set<number>();
      for (const step of steps) {
        if (!('store' in step)) continue;
        if (step.fault === 'restore' || step.fault === 'restart-store') faulty.delete(step.store);
        else {
          expect(faulty.has(step.store)).toBe(false);
          faulty.add(step.store);
        }
      }
    }
  });

  it('the cluster scenarios act on hub nodes only, one node down at a time, and the seed picks which', () => {
    for (const name of CLUSTER_SCENARIOS) {
      const seen = new Set<string>();
      for (const seed of [0, 1, 2, 3, 4, 5]) {
        const steps = scenarioSchedule(name, { stores: 3, durationMs: 20_000, seed });
        expect(needsCluster(steps)).toBe(true);
        expect(steps.every((step) => 'node' in step && step.node < 3)).toBe(true);
        let down = 0;
        for (const step of steps) {
          down += step.fault === 'kill-node' || step.fault === 'cut-db' ? 1 : -1;
          expect(down).toBeLessThanOrEqual(1);
        }
        seen.add(JSON.stringify(steps.map((step) => ('node' in step ? step.node : -1))));
      }
      expect(seen.size).toBeGreaterThan(1);
    }
    for (const name of SCENARIOS.filter((n) => !CLUSTER_SCENARIOS.includes(n))) {
      expect(needsCluster(scenarioSchedule(name, { stores: 3, durationMs: 20_000, seed: 1 }))).toBe(false);
    }
  });

  it('runs three hub nodes when asked, for a cluster scenario, or for a schedule with hub node steps', () => {
    const options = (argv: Record<string, unknown>) => SimOptionsSchema.parse(argv);
    expect(clusterMode(options({ scenario: 'hub-down' }), [])).toBe(false);
    expect(clusterMode(options({ scenario: 'hub-down', cluster: true }), [])).toBe(true);
    expect(clusterMode(options({ scenario: 'db-partition' }), [])).toBe(true);
    const fromFile: FaultStep[] = [{ atMs: 10, fault: 'kill-node', node: 1 }];
    expect(clusterMode(options({ scenario: 'mine.json' }), fromFile)).toBe(true);
    expect(FaultScheduleFileSchema.safeParse({ steps: [{ atMs: 0, fault: 'kill-node', node: 3 }] }).success).toBe(
      false,
    );
    expect(FaultScheduleFileSchema.parse({ steps: [{ atMs: 0, fault: 'cut-db', node: 0 }] }).steps[0]).toEqual({
      atMs: 0,
      fault: 'cut-db',
      node: 0,
      mode: 'reset',
    });
  });

  it('without PostgreSQL installed, the cluster mode stops before anything starts and says how to install it', () => {
    expect(() => requirePostgres('db-partition', ['/nonexistent/bin'])).toThrow(SimInputError);
    expect(() => requirePostgres('db-partition', ['/nonexistent/bin'])).toThrow(
      /db-partition in cluster mode .* PostgreSQL is not installed .*apt-get install postgresql/,
    );
  });

  it('the fault driver sends hub node steps to the cluster, and refuses them without the cluster mode', async () => {
    const calls: string[] = [];
    const base: FaultTarget = {
      storeIds: [],
      proxy: () => undefined,
      allProxies: [],
      killStore: () => Promise.resolve(),
      restartStore: () => Promise.resolve(),
      killHub: () => Promise.resolve(),
      restartHub: () => Promise.resolve(),
      restartStopped: () => Promise.resolve(),
    };
    const steps: FaultStep[] = [
      { atMs: 1, fault: 'kill-node', node: 2 },
      { atMs: 2, fault: 'cut-db', node: 0, mode: 'hold' },
      { atMs: 3, fault: 'restart-node', node: 2 },
      { atMs: 4, fault: 'restore-db', node: 0 },
    ];
    const cluster: FaultTarget = {
      ...base,
      killNode: (i) => Promise.resolve(void calls.push(`kill ${i}`)),
      restartNode: (i) => Promise.resolve(void calls.push(`restart ${i}`)),
      cutDatabase: (i, mode) => void calls.push(`cut ${i} ${mode}`),
      restoreDatabase: (i) => void calls.push(`restore ${i}`),
    };
    const driver = new FaultDriver(steps, cluster, (store, node) =>
      Promise.resolve(void calls.push(`burst ${store ?? 'hub'} ${node ?? ''}`)),
    );
    await driver.applyDue(() => 2);
    expect(driver.describe()).toBe('hub node #2 killed, hub node #0 cut from the database (hold)');
    await driver.applyDue(() => 4);
    expect(calls).toEqual(['burst hub 2', 'kill 2', 'cut 0 hold', 'restart 2', 'restore 0']);
    expect(driver.describe()).toBe('none');
    const single = new FaultDriver(steps, base, () => Promise.resolve());
    await expect(single.applyDue(() => 1)).rejects.toThrow('kill-node needs the cluster mode');
  });

  it('a schedule file is checked: unknown faults, bad times and extra fields are refused', () => {
    expect(FaultScheduleFileSchema.safeParse({ steps: [{ atMs: 0, fault: 'explode', store: 0 }] }).success).toBe(false);
    expect(FaultScheduleFileSchema.safeParse({ steps: [{ atMs: -1, fault: 'hold', store: 0 }] }).success).toBe(false);
    expect(FaultScheduleFileSchema.safeParse({ steps: [{ atMs: 0, fault: 'kill-hub', store: 0 }] }).success).toBe(
      false,
    );
    expect(
      FaultScheduleFileSchema.safeParse({ steps: [{ atMs: 0, fault: 'flap', store: 0, upMs: 10, downMs: 100 }] })
        .success,
    ).toBe(false);
  });
});
