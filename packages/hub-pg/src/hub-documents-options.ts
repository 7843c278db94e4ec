import type { Sku } from '@shelfsync/protocol';
import type { ResidencyOptions } from '@shelfsync/sync';
import type pg from 'pg';
import type * as Y from 'yjs';
import type { PgChangeLogOptions } from './change-log-options.js';

/**
 * Which node performs the hub's own writes of a SKU (shard leases): only the
 * owner of its shard, and a deposed owner's write fails inside its transaction.
 */
export interface ShardOwnership {
  shardOf(sku: Sku): number;
  /** Whether this node holds the shard's lease now (and may start a hub write of it). */
  owns(shard: number): boolean;
  /** In the committing transaction: throws a CommitConflict unless this node still holds the shard's lease. */
  check(client: pg.ClientBase, shard: number): Promise<void>;
}

export interface PgHubDocumentsOptions extends PgChangeLogOptions {
  readonly residency?: ResidencyOptions;
  /** A node that commits a change of a SKU with this many changes after its snapshot writes a new one; default 200. */
  readonly compactEvery?: number;
  /** Without one, this node performs every hub write (one hub per database, behind its writer fence). */
  readonly ownership?: ShardOwnership;
}

/** A hub write asked of a node that does not own the SKU's shard: nothing was written. */
export class NotShardOwner extends Error {
  constructor(
    readonly sku: Sku,
    readonly shard: number,
  ) {
    super(`this hub node does not own shard ${shard} (SKU ${sku}) now`);
    this.name = 'NotShardOwner';
  }
}

/** Hears a change another node committed, with this node's document after it (to relay it to this node's stores). */
export type ForeignChangeListener = (sku: Sku, update: Uint8Array, change: number, doc: Y.Doc) => void;
