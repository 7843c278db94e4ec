import { MemoryStorageAdapter, type StorageWrite } from '@shelfsync/storage';

/** An in-memory adapter whose write batches wait at a gate the test opens, or fail there. */
export class GatedAdapter extends MemoryStorageAdapter {
  private gate: Promise<void> | null = null;
  private release: ((failure: Error | null) => void) | null = null;
  private reached: (() => void) | null = null;
  private failure: Error | null = null;
  /** Resolves once a batch is waiting at the gate. */
  waiting: Promise<void> = Promise.resolve();

  /** Batches from now on wait until `letThrough` or `fail`. */
  hold(): void {
    this.gate = new Promise((resolve) => {
      this.release = (failure) => {
        this.failure = failure;
        resolve();
      };
    });
    this.waiting = new Promise((resolve) => (this.reached = resolve));
  }

  letThrough(): void {
    this.release?.(null);
    this.gate = null;
  }

  /** The waiting batches, and every later one, fail as a full disk would. */
  fail(error = new Error('ENOSPC: no space left on device')): void {
    this.release?.(error);
    this.failure = error;
    this.gate = null;
  }

  override async writeBatch(writes: readonly StorageWrite[]): Promise<void> {
    if (this.gate !== null) {
      this.reached?.();
      await this.gate;
    }
    if (this.failure !== null) throw this.failure;
    return super.writeBatch(writes);
  }
}
