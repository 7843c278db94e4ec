/**
 * Runs `task` when kicked: one run at a time, and at most one more queued
 * behind it however often it is kicked meanwhile. The task reports its own
 * failures; a rejection is handed to `onError`.
 */
export class Coalesced {
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly task: () => Promise<void>,
    private readonly onError: (error: Error) => void,
  ) {}

  kick(): void {
    if (this.stopped) return;
    if (this.running !== null) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
    });
  }

  /** Kicks no more and waits for the run in progress (and the one queued behind it). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.task();
      } catch (error) {
        this.onError(error instanceof Error ? error : new Error(String(error)));
      }
    } while (this.again);
  }
}

/** Collects items and hands them to `send` in batches: one batch in flight, the rest gathered behind it. */
export class Batcher<T> {
  private readonly queued: T[] = [];
  private readonly runner: Coalesced;

  constructor(send: (items: T[]) => Promise<void>, onError: (error: Error) => void) {
    this.runner = new Coalesced(async () => {
      const items = this.queued.splice(0);
      if (items.length > 0) await send(items);
    }, onError);
  }

  add(item: T): void {
    this.queued.push(item);
    this.runner.kick();
  }

  /** Sends what is queued, then nothing more. */
  async stop(): Promise<void> {
    this.runner.kick();
    await this.runner.stop();
  }
}
