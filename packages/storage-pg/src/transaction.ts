import pg from 'pg';

/**
 * A transaction that did not commit, or may not have. `committed` says what the
 * database holds: `no` (it rolled back, or never got a COMMIT) or `unknown` (the
 * COMMIT was sent and no answer came back: it may have been applied).
 */
export class TransactionError extends Error {
  constructor(
    message: string,
    readonly committed: 'no' | 'unknown',
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'TransactionError';
  }
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Only an ERROR the server answered proves the COMMIT was refused (the session
 * lives on, the transaction rolled back). A lost connection, or a FATAL that
 * ends the session, may come after the commit record: the outcome is unknown.
 * The severity is localized on a server with translated messages; there every
 * failed COMMIT counts as unknown, which is never wrong, only less precise.
 */
function refusedByServer(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.severity === 'ERROR';
}

/**
 * Runs `body` between BEGIN and COMMIT on one pooled connection. Every failure
 * becomes a TransactionError that says whether the work may have been applied.
 */
export async function inTransaction<T>(pool: pg.Pool, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw new TransactionError(`cannot reach PostgreSQL: ${describe(error)}`, 'no', { cause: error });
  }
  // A checked-out client that loses its connection emits 'error'; unheard, that
  // event would end the process. The query in flight rejects too.
  let lost: Error | undefined;
  const onError = (error: Error): void => {
    lost ??= error;
  };
  client.on('error', onError);
  const release = (broken: boolean): void => {
    client.removeListener('error', onError);
    // A broken connection is closed, not returned to the pool.
    client.release(broken || lost !== undefined);
  };

  let result: T;
  try {
    await client.query('BEGIN');
    result = await body(client);
    if (lost !== undefined) throw lost;
  } catch (error) {
    // Nothing was committed: without a COMMIT the server rolls back, also when the session ends.
    const rolledBack =
      lost === undefined &&
      (await client.query('ROLLBACK').then(
        () => true,
        () => false,
      ));
    release(!rolledBack);
    throw new TransactionError(`transaction rolled back: ${describe(error)}`, 'no', { cause: error });
  }

  try {
    const commit = await client.query('COMMIT');
    // COMMIT in a transaction that an error aborted answers ROLLBACK, not an error.
    if (commit.command !== 'COMMIT') throw new TransactionError(`COMMIT answered ${commit.command}`, 'no');
  } catch (error) {
    release(true);
    if (error instanceof TransactionError) throw error;
    const committed = refusedByServer(error) ? 'no' : 'unknown';
    const what = committed === 'no' ? 'refused' : 'may or may not have been applied';
    throw new TransactionError(`COMMIT ${what}: ${describe(error)}`, committed, { cause: error });
  }
  release(false);
  return result;
}
