import { HeldPool, migrate, storageMigrations } from '@shelfsync/storage-pg';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { LeaseLost } from './lease-errors.js';
import * as rows from './lease-rows.js';
import { shardOf } from './shard-of.js';
import type { NodeStatus, ShardLeasesOptions, ShardLeasesStats } from './shard-lease-options.js';
import { planRound } from './shard-plan.js';

/** A lease this node holds: `validUntil` is on the monotonic clock, ahead of the database's expiry. */
interface Lease {
  readonly epoch: number;
  validUntil: number;
  announced: boolean;
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/** Nodes silent this long are dropped from the node list when a node opens. */
const FORGET_AFTER_MS = 60 * 60 * 1000;

/**
 * This node's share of the cluster's SKU shards, held as leases with epochs
 * in PostgreSQL (schema versions 5 and 7). Every `renewEveryMs` a round heartbeats,
 * renews this node's leases, and moves towards the fair share: below it, it
 * takes unowned or expired shards under a raised epoch; above it while an
 * alive node lacks its share, it gives the excess up. `owns` answers from a
 * local window that closes before the database lease can expire, so a node
 * that cannot renew stops believing before another node may take over; and
 * `check`, in each write transaction, makes a deposed node's write fail there.
 */
export class ShardLeases {
  readonly cluster: string;
  readonly shards: number;
  readonly leaseMs: number;
  readonly renewEveryMs: number;
  private readonly margin: number;
  private readonly leases = new Map<number, Lease>();
  private readonly instance = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private closing: Promise<void> | undefined;
  private counters = { rounds: 0, roundFailures: 0, renewFailures: 0, leaseChanges: 0, taken: 0, released: 0 };
  private lastRoundMs = 0;
  private status: (() => NodeStatus) | undefined;

  private constructor(
    private readonly held: HeldPool,
    private readonly options: ShardLeasesOptions,
  ) {
    this.cluster = options.cluster ?? 'hub';
    this.shards = options.shards ?? 64;
    this.leaseMs = options.leaseMs ?? 4_000;
    this.renewEveryMs = options.renewEveryMs ?? 1_000;
    this.margin = options.safetyMarginMs ?? this.leaseMs / 8;
    if (!Number.isSafeInteger(this.shards) || this.shards < 1 || this.shards > 65_536) {
      throw new RangeError(`shards must be an integer from 1 to 65536, not ${this.shards}`);
    }
    // A lease must outlive a few renewals, or one slow round loses it.
    if (!(this.renewEveryMs > 0 && this.margin >= 0 && this.renewEveryMs * 2 <= this.leaseMs - this.margin)) {
      throw new RangeError('renewEveryMs must be positive and at most half of leaseMs minus the safety margin');
    }
    if (options.node === '') throw new TypeError('a node needs a non-empty id');
    this.status = options.status;
  }

  get node(): string {
    return this.options.node;
  }

  /**
   * Opens leases on `database` (a pool the caller keeps, or a connection
   * string for a pool of its own): migrates the schema, records or checks the
   * shard count, registers the node and runs its first round.
   */
  static async open(database: pg.Pool | string, options: ShardLeasesOptions): Promise<ShardLeases> {
    const report = (error: Error): void => options.onError?.(error);
    const held = HeldPool.hold(database, options.maxConnections ?? 2, report);
    try {
      const leases = new ShardLeases(held, options);
      await migrate(held.pool, storageMigrations);
      await rows.ensureCluster(held.pool, leases.cluster, leases.shards);
      await rows.register(
        held.pool,
        leases.cluster,
        leases.node,
        leases.instance,
        options.url ?? null,
        FORGET_AFTER_MS,
      );
      await leases.round();
      leases.timer = setInterval(() => leases.tick(), leases.renewEveryMs);
      leases.timer.unref();
      return leases;
    } catch (error) {
      await held.release();
      throw error;
    }
  }

  shardOf(sku: string): number {
    return shardOf(sku, this.shards);
  }

  /** Held, and within the local window of its last renewal. */
  owns(shard: number): boolean {
    const lease = this.leases.get(shard);
    return lease !== undefined && performance.now() < lease.validUntil;
  }

  /** The epoch this node owns `shard` under, if it owns it. */
  epochOf(shard: number): number | undefined {
    return this.owns(shard) ? this.leases.get(shard)?.epoch : undefined;
  }

  ownedShards(): number[] {
    return [...this.leases.keys()].filter((shard) => this.owns(shard)).sort((a, b) => a - b);
  }

  /**
   * Run first in each write transaction of the shard's SKUs, on its `client`:
   * throws LeaseLost unless this node holds the lease, under the epoch it
   * believes, unexpired by the database's clock. The row stays locked (FOR
   * KEY SHARE) until the transaction ends, so a takeover waits for this write;
   * this node's renewals do not.
   */
  async check(client: pg.ClientBase, shard: number): Promise<void> {
    const epoch = this.leases.get(shard)?.epoch;
    const row = await rows.leaseForShare(client, this.cluster, shard);
    const current = row === undefined || row.node === null ? undefined : { node: row.node, epoch: row.epoch };
    if (epoch === undefined) throw new LeaseLost(shard, epoch, current, 'this node does not hold it');
    if (current?.node !== this.node || current.epoch !== epoch) {
      throw new LeaseLost(shard, epoch, current, current === undefined ? 'it was released' : 'it was taken over');
    }
    if (row?.live !== true) throw new LeaseLost(shard, epoch, current, 'it expired');
  }

  /** Nodes and leases as the database has them now. */
  view(): Promise<rows.ClusterView> {
    return rows.clusterView(this.held.pool, this.cluster, this.shards, this.leaseMs);
  }

  /** Sets (or replaces) what each heartbeat reports: see ShardLeasesOptions.status. */
  reportStatus(status: () => NodeStatus): void {
    this.status = status;
  }

  /** Records where this node serves (shown in the cluster's view), for a node that learns it only once it listens. */
  advertise(url: string): Promise<void> {
    return rows.advertise(this.held.pool, this.cluster, this.node, this.instance, url);
  }

  stats(): ShardLeasesStats {
    return { ...this.counters, owned: this.ownedShards().length, lastRoundMs: this.lastRoundMs };
  }

  /**
   * Stops the rounds, gives every lease up at once (the next owners wait for
   * the writes that passed their check), marks the node gone, lets the pool go.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.standDown();
      await rows
        .leave(this.held.pool, this.cluster, this.node, this.instance)
        .catch((error: unknown) => this.options.onError?.(asError(error)));
      await this.held.release();
    })();
    return this.closing;
  }

  /** Ends the rounds and hands every lease over: local belief first, then the database. */
  private async standDown(): Promise<void> {
    this.stop();
    await this.running;
    await this.giveUp();
  }

  private stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private async giveUp(): Promise<void> {
    const given = this.dropAll();
    await rows
      .release(this.held.pool, this.cluster, this.node, given)
      .catch((error: unknown) => this.options.onError?.(asError(error)));
  }

  private tick(): void {
    this.sweep();
    if (this.running !== undefined || this.stopped) return;
    this.running = this.round()
      .catch((error: unknown) => {
        this.counters.roundFailures++;
        this.options.onError?.(asError(error));
      })
      .finally(() => {
        this.running = undefined;
      });
  }

  /** Tells onChange about leases whose local window closed without a renewal. */
  private sweep(): void {
    const now = performance.now();
    for (const [shard, lease] of this.leases) {
      if (lease.announced && now >= lease.validUntil) this.announce(shard, lease, false);
    }
  }

  private async round(): Promise<void> {
    const start = performance.now();
    this.counters.rounds++;
    const { pool } = this.held;
    const stores = this.storesNow();
    const beat = await rows.heartbeat(pool, this.cluster, this.node, this.instance, stores).catch((error: unknown) => {
      this.counters.renewFailures++;
      throw error;
    });
    if (!beat) {
      this.options.onError?.(new Error(`another process registered as hub node "${this.node}": this one stands down`));
      // Not standDown: that waits for the round in progress, which is this one.
      this.stop();
      await this.giveUp();
      return;
    }
    await this.renew();
    if (this.stopped) return;
    const { alive, leases } = await rows.readCluster(pool, this.cluster, this.leaseMs);
    const owned = new Map<string, number>();
    for (const lease of leases) {
      if (lease.live && lease.node !== null && lease.node !== this.node) {
        owned.set(lease.node, (owned.get(lease.node) ?? 0) + 1);
      }
    }
    owned.set(this.node, this.leases.size);
    const plan = planRound({ me: this.node, shards: this.shards, alive, owned });
    if (plan.take > 0) await this.take(plan.take);
    if (plan.release > 0) await this.release(plan.release);
    this.lastRoundMs = performance.now() - start;
  }

  /** The status's store count; null (keep the last one) when it fails or is no count: the heartbeat must go on. */
  private storesNow(): number | null {
    if (this.status === undefined) return 0;
    try {
      const { stores } = this.status();
      if (Number.isSafeInteger(stores) && stores >= 0 && stores <= 2 ** 31 - 1) return stores;
      this.options.onError?.(new RangeError(`a node's status gave ${stores} store sessions`));
    } catch (error) {
      this.options.onError?.(asError(error));
    }
    return null;
  }

  private async renew(): Promise<void> {
    const held = [...this.leases].map(([shard, { epoch }]) => ({ shard, epoch }));
    const start = performance.now();
    let renewed: rows.Held[];
    try {
      renewed = await rows.renew(this.held.pool, this.cluster, this.node, held, this.leaseMs, this.renewEveryMs / 2);
    } catch (error) {
      this.counters.renewFailures++;
      throw error;
    }
    const kept = new Set(renewed.map(({ shard }) => shard));
    for (const { shard } of held) {
      const lease = this.leases.get(shard);
      if (lease === undefined) continue;
      if (!kept.has(shard)) {
        // Another node took it over (its epoch moved on): gone for good.
        this.leases.delete(shard);
        if (lease.announced) this.announce(shard, lease, false);
        continue;
      }
      lease.validUntil = start + this.leaseMs - this.margin;
      if (!lease.announced && this.owns(shard)) this.announce(shard, lease, true);
    }
  }

  private async take(count: number): Promise<void> {
    const start = performance.now();
    const taken = await rows.take(this.held.pool, this.cluster, this.node, count, this.leaseMs);
    for (const { shard, epoch } of taken) {
      const lease: Lease = { epoch, validUntil: start + this.leaseMs - this.margin, announced: false };
      this.leases.set(shard, lease);
      this.counters.taken++;
      if (this.owns(shard)) this.announce(shard, lease, true);
    }
  }

  /** Gives up the highest shards: forgotten locally before the database frees them. */
  private async release(count: number): Promise<void> {
    const chosen = [...this.leases].sort(([a], [b]) => b - a).slice(0, count);
    for (const [shard] of chosen) this.drop(shard);
    const given = chosen.map(([shard, { epoch }]) => ({ shard, epoch }));
    this.counters.released += (await rows.release(this.held.pool, this.cluster, this.node, given)).length;
  }

  private drop(shard: number): void {
    const lease = this.leases.get(shard);
    if (lease === undefined) return;
    this.leases.delete(shard);
    if (lease.announced) this.announce(shard, lease, false);
  }

  private dropAll(): rows.Held[] {
    const given = [...this.leases].map(([shard, { epoch }]) => ({ shard, epoch }));
    for (const { shard } of given) this.drop(shard);
    return given;
  }

  private announce(shard: number, lease: Lease, owned: boolean): void {
    lease.announced = owned;
    this.counters.leaseChanges++;
    try {
      this.options.onChange?.({ shard, owned, epoch: lease.epoch });
    } catch (error) {
      // A listener's failure must not stop the rounds.
      this.options.onError?.(asError(error));
    }
  }
}
