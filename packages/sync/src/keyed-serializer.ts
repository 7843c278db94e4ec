/**
 * Runs tasks of one key one at a time, in the order `run` was called, and tasks
 * of different keys concurrently. A task starts once every earlier task of its
 * key has settled, whatever the outcome: a failure is its own caller's, never
 * the next task's. A key is forgotten as soon as its last task settles, so only
 * keys with work queued or running are held.
 */
export class KeyedSerializer<K> {
  /** Per key, a promise that settles (never rejects) once its last queued task has. */
  private readonly tails = new Map<K, Promise<void>>();

  /** Runs `task` after every task of `key` queued before it; resolves or rejects as the task does. */
  run<T>(key: K, task: () => T | Promise<T>): Promise<T> {
    const run = (this.tails.get(key) ?? Promise.resolve()).then(task);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return run;
  }

  /** Keys with a task queued or running. */
  get pendingKeys(): number {
    return this.tails.size;
  }
}
