import type { WriterFence } from '@shelfsync/storage-pg';
import type { ClientClaim } from '@shelfsync/sync';
import type pg from 'pg';
import type { ChangeRow } from './change-rows.js';

export interface PgChangeLogOptions {
  /** The storage namespace `extra` writes go to (a PgStorageAdapter of it reads them). */
  readonly namespace: string;
  /** Which log of the database; default `hub`. */
  readonly log?: string;
  /** Checked in every commit's transaction: a process taken over commits nothing. */
  readonly fence?: WriterFence;
  /** Reads the log this often even without notifications; default 500 ms; 0: never. */
  readonly pollIntervalMs?: number;
  /** Changes per read of the log; default 500. */
  readonly batchSize?: number;
  /** First wait before reconnecting the LISTEN connection or retrying a read; default 50 ms, doubling to 2 s. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** Connections of the pool opened from a connection string; default 4 (one listens). */
  readonly maxConnections?: number;
  /** Told about failures the log recovers from itself: a dropped connection, a failed read or notification. */
  readonly onError?: (error: Error) => void;
  /**
   * A failed commit (the database went away, or did not answer a COMMIT) fails
   * that commit only, instead of the whole log: for a caller that drops what it
   * applied and reads it again from the database, where what is stored, and
   * only that, is the truth. A writer fenced out still fails the log. Default false.
   */
  readonly recoverable?: boolean;
  /** The time a change records; default Date.now. */
  readonly now?: () => number;
  /** This instance's name in the rows it commits (`ChangeRow.node`); default a random UUID. */
  readonly node?: string;
}

/** What a cluster's commit adds to the transaction. */
export interface CommitChecks {
  /**
   * Runs in the committing transaction after the fence check and before the
   * change is numbered; a CommitConflict it throws rolls the commit back
   * without failing the log.
   */
  readonly check?: (client: pg.ClientBase) => Promise<void>;
  /** The client ids the change reserves, recorded with it for the other nodes. */
  readonly claims?: readonly ClientClaim[];
}

/** Hears each announced change with its row, and whether this instance committed it. */
export type ChangeListener = (row: ChangeRow, own: boolean) => void;
