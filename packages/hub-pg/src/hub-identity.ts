import type { WriterKey } from '@shelfsync/protocol';
import { CLIENT_OWNERS_TABLE, HUB_IDENTITY_TABLE, inTransaction, type Row } from '@shelfsync/storage-pg';
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { z } from 'zod';

const IdSchema = z
  .union([z.string().regex(/^\d+$/), z.number().int()])
  .transform(Number)
  .pipe(z.number().int().min(0).max(0xffff_ffff));
const IdentityRowSchema = z.object({ client_id: IdSchema, neutral_client_id: IdSchema });

/** The Yjs client ids every node of a cluster writes its documents under. */
export interface HubIdentity {
  /** The id of version 1's `hub` entry. */
  readonly clientId: number;
  /** The id documents rest on: nothing is written under it. */
  readonly neutralClientId: number;
}

/**
 * The cluster's hub identity, drawn by the first node to open the log and read
 * by every later one, with both ids reserved to the hub in the registry in the
 * same transaction. `draw` must give ids no store holds yet: in a new log none
 * does; a log with stores' ids already has its identity.
 */
export async function ensureIdentity(pool: pg.Pool, log: string, draw: () => number): Promise<HubIdentity> {
  return inTransaction(pool, async (client) => {
    // Two first nodes at once: the second waits here, then finds the first one's identity.
    await client.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`shelfsync identity ${log}`]);
    const { rows } = await client.query<Row>(
      `SELECT client_id, neutral_client_id FROM ${HUB_IDENTITY_TABLE} WHERE log = $1`,
      [log],
    );
    if (rows[0] !== undefined) {
      const found = IdentityRowSchema.parse(rows[0]);
      return { clientId: found.client_id, neutralClientId: found.neutral_client_id };
    }
    const taken = await client.query<Row>(`SELECT client FROM ${CLIENT_OWNERS_TABLE} WHERE log = $1`, [log]);
    const held = new Set(taken.rows.map((row) => IdSchema.parse(row['client'])));
    const fresh = (): number => {
      for (;;) {
        const id = draw();
        if (!held.has(id)) {
          held.add(id);
          return id;
        }
      }
    };
    const identity = { clientId: fresh(), neutralClientId: fresh() };
    await client.query(`INSERT INTO ${HUB_IDENTITY_TABLE} (log, client_id, neutral_client_id) VALUES ($1, $2, $3)`, [
      log,
      identity.clientId,
      identity.neutralClientId,
    ]);
    await client.query(
      `INSERT INTO ${CLIENT_OWNERS_TABLE} (log, client, writer, own) VALUES ($1, $2, 'hub', false), ($1, $3, 'hub', false)`,
      [log, identity.clientId, identity.neutralClientId],
    );
    return identity;
  });
}

/**
 * The id the cluster's hub writes `key` under, the same on every node: derived
 * from the log's identity and the key, so two nodes that write a key for the
 * first time at once pick the same id (and the registry's check in the
 * committing transaction settles the rare id some store already holds).
 */
export function clusterOwnId(identity: HubIdentity, key: WriterKey): number {
  const digest = createHash('sha256').update(`${identity.clientId}/${identity.neutralClientId}/${key}`).digest();
  return digest.readUInt32BE(0);
}
