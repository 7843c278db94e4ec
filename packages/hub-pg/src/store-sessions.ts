/**
 * One live session per store across the hub nodes of a cluster. A node that
 * admits a store's session claims the store in `store_sessions` (schema
 * version 8) under a claim number one above the last, and says so on a
 * notification channel; a node that holds an older session of that store
 * closes it, as one hub closes a store's earlier session when it connects
 * again. The close goes through the session's own ending, so what the store
 * sent before it is applied.
 *
 * Notifications are best effort: a node also compares its sessions with the
 * table every `reconcileEveryMs`. Until either tells it, two sessions of one
 * store stay sound: the commit checks judge each update on the database.
 */
import { HeldPool, STORE_SESSIONS_TABLE, assertIdentifier, migrate, storageMigrations } from '@shelfsync/storage-pg';
import type pg from 'pg';
import { z } from 'zod';
import { NotificationListener } from './notification-listener.js';

export interface StoreSessionsOptions {
  /** This node's id in the cluster. */
  readonly node: string;
  /** Which cluster of the database; default `hub`. */
  readonly cluster?: string;
  /** A store whose session this node holds was claimed since by another node's newer session. */
  readonly replaced: (storeId: string) => void;
  /** The stores whose sessions this node holds now, for the periodic comparison. */
  readonly live: () => readonly string[];
  /** How often the sessions held here are compared with the table; default 5 s. */
  readonly reconcileEveryMs?: number;
  readonly onError?: (error: Error) => void;
}

const ClaimSchema = z.strictObject({ store: z.string().min(1), node: z.string().min(1), claim: z.int().min(1) });
/** pg hands bigint columns over as strings. */
const ClaimNumberSchema = z
  .union([z.string().regex(/^\d+$/), z.number().int()])
  .transform(Number)
  .pipe(z.int().min(1));
const RowSchema = z.object({
  store_id: z.string(),
  node: z.string(),
  claim: ClaimNumberSchema,
});

export class StoreSessions {
  /** The claim under which this node holds each store's session. */
  private readonly claims = new Map<string, number>();
  private readonly channel: string;
  private readonly listener: NotificationListener;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly held: HeldPool,
    private readonly cluster: string,
    private readonly options: StoreSessionsOptions,
  ) {
    this.channel = `store_sessions_${cluster}`;
    const onError = (error: Error): void => options.onError?.(error);
    this.listener = new NotificationListener(
      held.pool,
      [this.channel],
      (_channel, payload) => this.heard(payload),
      () => this.reconcile(),
      { retryMinMs: 50, retryMaxMs: 2_000, onError },
    );
  }

  static async open(database: pg.Pool | string, options: StoreSessionsOptions): Promise<StoreSessions> {
    const cluster = options.cluster ?? 'hub';
    assertIdentifier('cluster name', cluster);
    const held = HeldPool.hold(database, 2, (error) => options.onError?.(error));
    try {
      await migrate(held.pool, storageMigrations);
      const sessions = new StoreSessions(held, cluster, options);
      await sessions.listener.start();
      sessions.timer = setInterval(() => sessions.reconcile(), options.reconcileEveryMs ?? 5_000);
      sessions.timer.unref();
      return sessions;
    } catch (error) {
      await held.release();
      throw error;
    }
  }

  /** This node admitted a session of `storeId`: claims the store, and tells the node whose session it replaces. */
  async claim(storeId: string): Promise<number> {
    const { rows } = await this.held.pool.query<{ claim: string }>(
      `INSERT INTO ${STORE_SESSIONS_TABLE} (cluster, store_id, node, claim, claimed_at)
       VALUES ($1, $2, $3, 1, clock_timestamp())
       ON CONFLICT (cluster, store_id) DO UPDATE
         SET node = EXCLUDED.node, claim = ${STORE_SESSIONS_TABLE}.claim + 1, claimed_at = EXCLUDED.claimed_at
       RETURNING claim`,
      [this.cluster, storeId, this.options.node],
    );
    const claim = ClaimNumberSchema.parse(rows[0]?.claim);
    this.claims.set(storeId, Math.max(claim, this.claims.get(storeId) ?? 0));
    const payload = JSON.stringify({ store: storeId, node: this.options.node, claim });
    await this.held.pool.query('SELECT pg_notify($1, $2)', [this.channel, payload]);
    return claim;
  }

  /**
   * This node's session of `storeId` that `claim` (what `claim` resolved with)
   * admitted has ended; a later session of the store here keeps its own claim.
   */
  released(storeId: string, claim: number): void {
    if (this.claims.get(storeId) === claim) this.claims.delete(storeId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.listener.stop();
    await this.held.release();
  }

  private heard(payload: string): void {
    let parsed: z.infer<typeof ClaimSchema>;
    try {
      parsed = ClaimSchema.parse(JSON.parse(payload));
    } catch {
      return;
    }
    this.supersede(parsed.store, parsed.node, parsed.claim);
  }

  /** Another node's claim: a session here under an older claim is closed. */
  private supersede(storeId: string, node: string, claim: number): void {
    if (node === this.options.node) return;
    const mine = this.claims.get(storeId);
    if (mine === undefined || mine >= claim) return;
    this.claims.delete(storeId);
    this.options.replaced(storeId);
  }

  /** What a lost notification would have said: the table's claims of the stores whose sessions are here. */
  private reconcile(): void {
    if (this.closed) return;
    const stores = this.options.live().filter((store) => this.claims.has(store));
    if (stores.length === 0) return;
    this.held.pool
      .query(`SELECT store_id, node, claim FROM ${STORE_SESSIONS_TABLE} WHERE cluster = $1 AND store_id = ANY($2)`, [
        this.cluster,
        stores,
      ])
      .then(({ rows }) => {
        for (const row of rows) {
          const parsed = RowSchema.safeParse(row);
          if (parsed.success) this.supersede(parsed.data.store_id, parsed.data.node, parsed.data.claim);
        }
      })
      .catch((error: unknown) => this.options.onError?.(error instanceof Error ? error : new Error(String(error))));
  }
}
