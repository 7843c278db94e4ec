import type { FaultStep } from './scenarios.js';
import type { SimCluster } from './sim-cluster.js';
import { LinkCuts } from './sim-metrics.js';

/** A fault as applied: when (ms from the workload's start) and what. */
export interface AppliedFault {
  readonly atMs: number;
  readonly step: FaultStep;
}

/** What the fault driver acts on: the simulator's cluster (or a stand-in in a test). */
export type FaultTarget = Pick<
  SimCluster,
  'storeIds' | 'proxy' | 'allProxies' | 'killStore' | 'restartStore' | 'killHub' | 'restartHub' | 'restartStopped'
> &
  /** Hub node faults: the cluster mode only. */
  Partial<Pick<SimCluster, 'killNode' | 'restartNode' | 'cutDatabase' | 'restoreDatabase'>>;

/**
 * The fault driver: applies a schedule's steps to the cluster when they fall
 * due (partitions, lag and flapping at the stores' proxies, kill -9 and restart
 * of the processes), keeps what is in force for the progress line and which
 * stores are cut off for the service figures, and heals everything at the end.
 */
export class FaultDriver {
  readonly applied: AppliedFault[] = [];
  private readonly schedule: readonly FaultStep[];
  private nextStep = 0;
  private readonly cuts = new LinkCuts();
  /** What each target (a store's id, or "hub") suffers now. */
  private readonly active = new Map<string, string>();

  constructor(
    schedule: readonly FaultStep[],
    private readonly cluster: FaultTarget,
    /** Sends a burst of requests at a process about to be killed: a store by index, or (null) the hub. */
    private readonly beforeKill: (store: number | null, node?: number) => Promise<void>,
  ) {
    this.schedule = [...schedule].sort((a, b) => a.atMs - b.atMs);
  }

  /** Applies, in order, every step due by `elapsed()` (ms since the workload's start). */
  async applyDue(elapsed: () => number): Promise<void> {
    while (this.nextStep < this.schedule.length && (this.schedule[this.nextStep]?.atMs ?? Infinity) <= elapsed()) {
      const step = this.schedule[this.nextStep++] as FaultStep;
      this.applied.push({ atMs: elapsed(), step });
      await this.apply(step);
      // After the fault: the burst sent before a kill reached a live process, not one cut off.
      this.cuts.apply(step);
    }
  }

  /** True while a fault cuts store `store` off from the hub (see LinkCuts). */
  isCut(store: number): boolean {
    return this.cuts.isCut(store);
  }

  /** The faults in force, for the progress line. */
  describe(): string {
    const faults = [...this.active.entries()].map(([target, what]) => `${target} ${what}`).join(', ');
    return faults === '' ? 'none' : faults;
  }

  /** Heal: every link restored (no lag, no flapping), every process back up. */
  async heal(): Promise<void> {
    for (const proxy of this.cluster.allProxies) {
      proxy.stopFlapping();
      proxy.restore();
      proxy.degrade({ latencyMs: 0, jitterMs: 0, bandwidth: 0 });
    }
    this.active.clear();
    await this.cluster.restartStopped();
  }

  private async apply(step: FaultStep): Promise<void> {
    const name = (i: number): string => this.cluster.storeIds[i] ?? `store #${i}`;
    switch (step.fault) {
      case 'hold':
        this.cluster.proxy(step.store)?.stopFlapping();
        this.cluster.proxy(step.store)?.hold();
        this.active.set(name(step.store), 'held');
        return;
      case 'reset':
        this.cluster.proxy(step.store)?.stopFlapping();
        this.cluster.proxy(step.store)?.partition();
        this.active.set(name(step.store), 'cut');
        return;
      case 'restore':
        this.cluster.proxy(step.store)?.stopFlapping();
        this.cluster.proxy(step.store)?.restore();
        this.cluster.proxy(step.store)?.degrade({ latencyMs: 0, jitterMs: 0, bandwidth: 0 });
        this.active.delete(name(step.store));
        return;
      case 'degrade':
        this.cluster
          .proxy(step.store)
          ?.degrade({ latencyMs: step.latencyMs, jitterMs: step.jitterMs, bandwidth: step.bandwidth });
        this.active.set(name(step.store), `lagging ${step.latencyMs}+${step.jitterMs} ms`);
        return;
      case 'flap':
        this.cluster.proxy(step.store)?.flap(step.upMs, step.downMs);
        this.active.set(name(step.store), 'flapping');
        return;
      case 'kill-store':
        // Killed in the middle of a burst of sales: some are answered, some durable but
        // unanswered, some never applied. The retry after the heal must apply each exactly once.
        await this.beforeKill(step.store);
        await this.cluster.killStore(step.store);
        this.active.set(name(step.store), 'killed');
        return;
      case 'restart-store':
        await this.cluster.restartStore(step.store);
        this.active.delete(name(step.store));
        return;
      case 'kill-hub':
        await this.beforeKill(null);
        await this.cluster.killHub();
        this.active.set('hub', 'killed');
        return;
      case 'restart-hub':
        await this.cluster.restartHub();
        this.active.delete('hub');
        return;
      default:
        await this.applyToNode(step);
    }
  }

  private async applyToNode(step: Extract<FaultStep, { node: number }>): Promise<void> {
    const { killNode, restartNode, cutDatabase, restoreDatabase } = this.cluster;
    if (
      killNode === undefined ||
      restartNode === undefined ||
      cutDatabase === undefined ||
      restoreDatabase === undefined
    )
      throw new Error(`${step.fault} needs the cluster mode`);
    const target = `hub node #${step.node}`;
    switch (step.fault) {
      case 'kill-node':
        // As with the hub: killed in the middle of a burst of reservations asked of it.
        await this.beforeKill(null, step.node);
        await killNode.call(this.cluster, step.node);
        this.active.set(target, 'killed');
        return;
      case 'restart-node':
        await restartNode.call(this.cluster, step.node);
        this.active.delete(target);
        return;
      case 'cut-db':
        cutDatabase.call(this.cluster, step.node, step.mode);
        this.active.set(target, `cut from the database (${step.mode})`);
        return;
      case 'restore-db':
        restoreDatabase.call(this.cluster, step.node);
        this.active.delete(target);
        return;
    }
  }
}
