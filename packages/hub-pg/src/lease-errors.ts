import { CommitConflict } from '@shelfsync/sync';

/** The holder of a shard's lease as the database has it. */
export interface LeaseHolder {
  readonly node: string;
  readonly epoch: number;
}

/**
 * A write refused inside its transaction: this node does not hold the shard's
 * lease under the epoch it believes, or the lease ran out. The transaction must
 * roll back; another node owns (or is about to own) the shard's SKUs. A
 * CommitConflict: the change log refuses the commit and goes on.
 */
export class LeaseLost extends CommitConflict {
  constructor(
    readonly shard: number,
    readonly epoch: number | undefined,
    readonly current: LeaseHolder | undefined,
    reason: string,
  ) {
    super(`shard ${shard} lease lost (this node's epoch ${epoch ?? 'none'}): ${reason}`);
    this.name = 'LeaseLost';
  }
}

/** A node opened with another shard count than its cluster's: SKUs would hash to other shards. */
export class ShardCountMismatch extends Error {
  constructor(
    readonly cluster: string,
    readonly shards: number,
    readonly expected: number,
  ) {
    super(`hub cluster "${cluster}" has ${expected} shards; this node was opened with ${shards}`);
    this.name = 'ShardCountMismatch';
  }
}
