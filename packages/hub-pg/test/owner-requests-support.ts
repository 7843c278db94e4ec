import { OWNER_REQUESTS_TABLE } from '@shelfsync/storage-pg';
import type pg from 'pg';
import { OwnerRequests, type OwnerRequest, type OwnerRequestsOptions } from '../src/index.js';
import { poolOn, serverPerFile } from './support.js';

/** One node of a test cluster: its OwnerRequests, the shards it owns and the errors it reported. */
export interface TestNode {
  readonly requests: OwnerRequests;
  readonly owned: Set<number>;
  readonly errors: Error[];
}

/**
 * A test file's PostgreSQL for OwnerRequests: one server for the file, a fresh
 * database per test, and every node and pool a test opened closed after it.
 */
export function ownerRequestsFixture(prefix: string) {
  const nodes: OwnerRequests[] = [];
  const pools: pg.Pool[] = [];
  const { server, fresh } = serverPerFile(prefix, async () => {
    for (const node of nodes.splice(0)) await node.close();
    for (const pool of pools.splice(0)) await pool.end();
  });
  return {
    server,
    fresh,
    /** Opens node `name` (also its connections' application_name) owning `shards`. */
    node: async (
      url: string,
      name: string,
      shards: readonly number[],
      options: Partial<OwnerRequestsOptions> = {},
    ): Promise<TestNode> => {
      const owned = new Set(shards);
      const errors: Error[] = [];
      const requests = await OwnerRequests.open(`${url}?application_name=${name}`, {
        node: name,
        owns: (shard) => owned.has(shard),
        pollIntervalMs: 200,
        onError: (error) => errors.push(error),
        ...options,
      });
      nodes.push(requests);
      return { requests, owned, errors };
    },
    pool: (url: string): pg.Pool => {
      const pool = poolOn(url, 2);
      pools.push(pool);
      return pool;
    },
  };
}

export const request = (id: string, shard = 0, body: unknown = { id }, kind = 'echo'): OwnerRequest => ({
  id,
  shard,
  kind,
  body,
});

/** The request rows of the database, by id: state, claimer and answer. */
export async function rows(pool: pg.Pool): Promise<Map<string, { state: string; claimed_by: string | null }>> {
  const { rows: found } = await pool.query<{ id: string; state: string; claimed_by: string | null }>(
    `SELECT id, state, claimed_by FROM ${OWNER_REQUESTS_TABLE}`,
  );
  return new Map(found.map((row) => [row.id, { state: row.state, claimed_by: row.claimed_by }]));
}

/** The backend of the LISTEN connection of the node connected as `name`, if it has one. */
export async function listenerOf(admin: pg.Pool, name: string): Promise<number | undefined> {
  const { rows: found } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
    [name],
  );
  return found[0]?.pid;
}

/** A promise and the function that settles it. */
export function gate(): { readonly opened: Promise<void>; readonly open: () => void } {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}
