export interface ShardLeasesOptions {
  /** This node's id, unique in the cluster. A second process opened under it replaces the first. */
  readonly node: string;
  /** Where this node serves HTTP and WebSocket, shown to operators and stores. */
  readonly url?: string;
  /** Which cluster of the database; default `hub`. */
  readonly cluster?: string;
  /** SKU shards of the cluster, fixed by its first node; default 64. */
  readonly shards?: number;
  /** How long a lease lasts past its last renewal (database clock); default 4000 ms. */
  readonly leaseMs?: number;
  /** How often a round heartbeats, renews and rebalances; default 1000 ms. */
  readonly renewEveryMs?: number;
  /** Taken off the local validity of each renewal, against clock drift; default leaseMs / 8. */
  readonly safetyMarginMs?: number;
  /** Hears every shard this node comes to own, or stops owning (also when its validity lapses). */
  readonly onChange?: (change: { shard: number; owned: boolean; epoch: number }) => void;
  /**
   * What the node reports with each heartbeat for operators: its live store
   * sessions. Read once a round; `reportStatus` sets it later (the sessions may
   * be counted by something opened after the leases). Without it, 0.
   */
  readonly status?: () => NodeStatus;
  /** Told about failures it recovers from itself: a failed round, a dropped connection. */
  readonly onError?: (error: Error) => void;
  /** Connections of the pool opened from a connection string; default 2. */
  readonly maxConnections?: number;
}

export interface ShardLeasesStats {
  readonly rounds: number;
  readonly roundFailures: number;
  /** Rounds whose heartbeat or renewal failed: the leases went unrenewed. */
  readonly renewFailures: number;
  /** Shards gained plus shards lost, as onChange reported them. */
  readonly leaseChanges: number;
  readonly taken: number;
  readonly released: number;
  readonly owned: number;
  readonly lastRoundMs: number;
}

/** What a node says about itself with each heartbeat (ShardLeasesOptions.status). */
export interface NodeStatus {
  /** Store sync sessions live on the node. */
  readonly stores: number;
}
