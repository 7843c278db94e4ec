import type pg from 'pg';
import { z } from 'zod';
import { WRITER_FENCE_TABLE } from './schema.js';

/** The first key of the two-key advisory locks writer fences take ('shfe'); the name's hash is the second. */
const FENCE_LOCK_CLASS = 0x73686665;

const EpochRowSchema = z.object({ epoch: z.union([z.string().regex(/^\d+$/), z.number().int()]).transform(Number) });

/** Another live process already writes under this name. */
export class WriterFenceHeld extends Error {
  constructor(readonly writer: string) {
    super(`another process holds the database as writer "${writer}"`);
    this.name = 'WriterFenceHeld';
  }
}

/** A write refused inside its transaction: another process took over the writer since this one did. */
export class FencedOut extends Error {
  constructor(
    readonly writer: string,
    readonly epoch: number,
    readonly current: number | undefined,
  ) {
    super(
      `writer "${writer}" epoch ${epoch} was taken over (now ${current ?? 'none'}): this process may no longer write`,
    );
    this.name = 'FencedOut';
  }
}

/**
 * One writer at a time for a name, across every process on a database. A
 * process takes it with `acquire`: a session advisory lock, held on a connection
 * of its own, keeps a second process from starting while the first is alive and
 * connected; then the writer's epoch is raised. Every write transaction calls
 * `check` first, which reads the epoch `FOR SHARE`: a process that lost its lock
 * connection and was taken over finds a newer epoch and its write rolls back,
 * never committed; and a takeover's raise waits for the writes that passed
 * their check to commit, so it starts from a state that holds them.
 */
export class WriterFence {
  private released = false;

  private constructor(
    private readonly client: pg.PoolClient,
    readonly writer: string,
    readonly epoch: number,
    private readonly onClientError: (error: Error) => void,
  ) {}

  /**
   * Takes the writer `writer` on `pool` (schema migrated), or rejects with
   * WriterFenceHeld. `onLost` hears the lock connection fail: from then on
   * another process may take over, and this one's writes fail once it has.
   */
  static async acquire(
    pool: pg.Pool,
    writer: string,
    onLost: (error: Error) => void = () => undefined,
  ): Promise<WriterFence> {
    const client = await pool.connect();
    let lost = false;
    // Unheard, an 'error' of a checked-out client would end the process.
    const onClientError = (error: Error): void => {
      if (lost) return;
      lost = true;
      onLost(error);
    };
    client.on('error', onClientError);
    try {
      const { rows } = await client.query<{ taken: boolean }>(
        'SELECT pg_try_advisory_lock($1::int, hashtext($2)) AS taken',
        [FENCE_LOCK_CLASS, writer],
      );
      if (rows[0]?.taken !== true) throw new WriterFenceHeld(writer);
      const raised = await client.query(
        `INSERT INTO ${WRITER_FENCE_TABLE} (name, epoch) VALUES ($1, 1)
         ON CONFLICT (name) DO UPDATE SET epoch = ${WRITER_FENCE_TABLE}.epoch + 1 RETURNING epoch`,
        [writer],
      );
      const { epoch } = EpochRowSchema.parse(raised.rows[0]);
      return new WriterFence(client, writer, epoch, onClientError);
    } catch (error) {
      client.removeListener('error', onClientError);
      // Closed, not returned: a connection that may hold the lock must not serve other calls.
      client.release(true);
      throw error;
    }
  }

  /** Run first in each write transaction on `client`: throws FencedOut once another process took over. */
  async check(client: pg.ClientBase): Promise<void> {
    const { rows } = await client.query(`SELECT epoch FROM ${WRITER_FENCE_TABLE} WHERE name = $1 FOR SHARE`, [
      this.writer,
    ]);
    const current = rows[0] === undefined ? undefined : EpochRowSchema.parse(rows[0]).epoch;
    if (current !== this.epoch) throw new FencedOut(this.writer, this.epoch, current);
  }

  /** Gives the writer up: its lock connection closes, which frees the lock. Safe to call twice. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.client.removeListener('error', this.onClientError);
    this.client.on('error', () => undefined);
    this.client.release(true);
  }
}
