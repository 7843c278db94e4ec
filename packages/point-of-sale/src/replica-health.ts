import { ErrorCode, ShelfsyncFailure, shelfsyncError } from '@shelfsync/protocol';

/** What the health of a replica needs to know of its storage. */
export interface FirstSyncRecord {
  readonly firstSyncDone: boolean;
  markFirstSyncDone(): Promise<void>;
}

export interface ReplicaHealthOptions {
  /** How long a write waits for a fresh replica's first sync before it is refused. */
  readonly firstSyncWaitMs: number;
  /** Named in the refusal, so the operator knows which hub the replica waits for. */
  readonly hubUrl: string;
  /** Local storage failed: stop syncing (memory may hold what the disk lacks). Called once. */
  readonly onFailed: (reason: string, error: unknown) => void;
  /** The first sync is done and recorded: the replica takes writes. */
  readonly onReady?: () => void;
}

/**
 * Whether a store replica may take requests: a latch that closes for good once
 * local storage fails (until a restart), and the gate that keeps a fresh
 * replica's writes out until its first sync with the hub is recorded.
 */
export class ReplicaHealth {
  private failureReason: string | null = null;
  private readonly firstSync: Promise<void>;
  private firstSynced: () => void = () => {};

  constructor(
    private readonly storage: FirstSyncRecord,
    private readonly options: ReplicaHealthOptions,
  ) {
    this.firstSync = storage.firstSyncDone
      ? Promise.resolve()
      : new Promise<void>((resolve) => (this.firstSynced = resolve));
  }

  /** Why local storage failed, or null while it has not. */
  get failure(): string | null {
    return this.failureReason;
  }

  /** Storage healthy and, for a fresh replica, the first sync done. */
  get ready(): boolean {
    return this.failureReason === null && this.storage.firstSyncDone;
  }

  /** Closes the latch: nothing more is served or synced until a restart. */
  failStop(error: unknown): void {
    if (this.failureReason !== null) return;
    this.failureReason = error instanceof Error ? error.message : String(error);
    this.options.onFailed(this.failureReason, error);
  }

  /** The replica caught up with the hub: a fresh one records its first sync and opens for writes. */
  caughtUp(): void {
    if (this.storage.firstSyncDone) return;
    this.storage.markFirstSyncDone().then(
      () => {
        this.options.onReady?.();
        this.firstSynced();
      },
      (error: unknown) => this.failStop(error),
    );
  }

  /** Throws STORAGE_UNAVAILABLE once local storage has failed. */
  assertHealthy(): void {
    if (this.failureReason !== null) {
      throw new ShelfsyncFailure(
        shelfsyncError(
          ErrorCode.StorageUnavailable,
          'this store could not write to its data directory and takes no more requests until it is restarted',
        ),
      );
    }
  }

  /** Throws REPLICA_NOT_READY while a fresh replica's first sync is not done, after waiting a little for it. */
  async assertReady(): Promise<void> {
    if (this.storage.firstSyncDone) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.firstSyncWaitMs)));
    await Promise.race([this.firstSync, timeout]);
    clearTimeout(timer);
    if (!this.storage.firstSyncDone) {
      throw new ShelfsyncFailure(
        shelfsyncError(
          ErrorCode.ReplicaNotReady,
          `this store's data directory is new: it must finish its first sync with the hub (${this.options.hubUrl}) before it takes writes; retry once GET /readyz answers 200`,
        ),
      );
    }
  }
}
