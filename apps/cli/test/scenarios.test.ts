import { describe, expect, it } from 'vitest';
import { FaultScheduleFileSchema, SCENARIOS, scenarioSchedule, type FaultStep } from '../src/sim/scenarios.js';

/** Whether every fault a schedule starts is ended (restored, restarted) before `durationMs`. */
function healsBefore(steps: readonly FaultStep[], durationMs: number): boolean {
  const open = new Set<string>();
  for (const step of steps) {
    if (step.atMs > durationMs) return false;
    const target = 'store' in step ? `store ${step.store}` : 'hub';
    if (step.fault === 'restore' || step.fault === 'restart-store' || step.fault === 'restart-hub') open.delete(target);
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
