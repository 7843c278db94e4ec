import pg from 'pg';

/**
 * A pool a PostgreSQL component works on: one its caller keeps (and ends), or
 * one it opened from a connection string and owns. Its 'error' events are
 * always heard: an idle connection the server ends is re-emitted on the pool,
 * and an unheard 'error' event ends the process.
 */
export class HeldPool {
  private constructor(
    readonly pool: pg.Pool,
    private readonly owned: boolean,
    private readonly onError: (error: Error) => void,
  ) {
    pool.on('error', onError);
  }

  /** Holds `database`: a pool as it is, or a new pool of `maxConnections` on a connection string. */
  static hold(database: pg.Pool | string, maxConnections: number, onError: (error: Error) => void): HeldPool {
    if (typeof database !== 'string') return new HeldPool(database, false, onError);
    const pool = new pg.Pool({
      connectionString: database,
      max: maxConnections,
      // A server that accepts no connection must fail a call, not hang it.
      connectionTimeoutMillis: 10_000,
    });
    return new HeldPool(pool, true, onError);
  }

  /** Lets the pool go: an owned one is ended, a caller's is left to its owner with our listener removed. */
  async release(): Promise<void> {
    if (this.owned) {
      // pool.end() resolves while idle connections are still closing; a server
      // that shuts down meanwhile ends them with an error the pool re-emits. The
      // pool is ours alone, so it keeps a listener for good.
      this.pool.on('error', () => undefined);
      await this.pool.end();
    }
    this.pool.removeListener('error', this.onError);
  }
}
