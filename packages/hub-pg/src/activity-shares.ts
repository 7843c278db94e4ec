/**
 * The chain activity each hub node reports (its stores' refusals, the
 * reservation calls it answered), kept in `activity_shares` (schema version 9):
 * each node rewrites its own row, and reads the others' to add them to what it
 * answers, so `/v1/summary` says the same on every node. A row not rewritten
 * for `staleAfterMs` (its node gone) still counts until then, as its minutes
 * stay in the summary's window.
 */
import { ACTIVITY_SHARES_TABLE, HeldPool, assertIdentifier, migrate, storageMigrations } from '@shelfsync/storage-pg';
import type pg from 'pg';

export interface ActivitySharesOptions {
  readonly node: string;
  /** Which cluster of the database; default `hub`. */
  readonly cluster?: string;
  /** Rows not rewritten for this long are left out; default 31 minutes (the summary's window and one more). */
  readonly staleAfterMs?: number;
  readonly onError?: (error: Error) => void;
}

export class ActivityShares {
  private constructor(
    private readonly held: HeldPool,
    private readonly cluster: string,
    private readonly options: ActivitySharesOptions,
  ) {}

  static async open(database: pg.Pool | string, options: ActivitySharesOptions): Promise<ActivityShares> {
    const cluster = options.cluster ?? 'hub';
    assertIdentifier('cluster name', cluster);
    const held = HeldPool.hold(database, 2, (error) => options.onError?.(error));
    try {
      await migrate(held.pool, storageMigrations);
      return new ActivityShares(held, cluster, options);
    } catch (error) {
      await held.release();
      throw error;
    }
  }

  /** Rewrites this node's row with `share`, a JSON text. */
  async publish(share: string): Promise<void> {
    await this.held.pool.query(
      `INSERT INTO ${ACTIVITY_SHARES_TABLE} (cluster, node, share, updated_at) VALUES ($1, $2, $3, clock_timestamp())
       ON CONFLICT (cluster, node) DO UPDATE SET share = EXCLUDED.share, updated_at = EXCLUDED.updated_at`,
      [this.cluster, this.options.node, share],
    );
  }

  /** The other nodes' shares, as stored (unparsed: the caller parses them). */
  async others(): Promise<unknown[]> {
    const { rows } = await this.held.pool.query<{ share: unknown }>(
      `SELECT share FROM ${ACTIVITY_SHARES_TABLE}
       WHERE cluster = $1 AND node <> $2 AND updated_at > clock_timestamp() - $3 * interval '1 millisecond'`,
      [this.cluster, this.options.node, this.options.staleAfterMs ?? 31 * 60_000],
    );
    return rows.map((row) => row.share);
  }

  close(): Promise<void> {
    return this.held.release();
  }
}
