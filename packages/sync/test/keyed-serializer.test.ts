import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyedSerializer } from '../src/keyed-serializer.js';

/** A promise and the functions that settle it. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: Error) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every queued microtask and timer callback run. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

describe('KeyedSerializer', () => {
  it('runs the tasks of one key one at a time, in call order', async () => {
    const serializer = new KeyedSerializer<string>();
    const log: string[] = [];
    const first = deferred();
    const a = serializer.run('k', async () => {
      log.push('a start');
      await first.promise;
      log.push('a end');
      return 'a';
    });
    const b = serializer.run('k', () => {
      log.push('b');
      return 'b';
    });
    await settle();
    expect(log).toEqual(['a start']);
    first.resolve();
    await expect(a).resolves.toBe('a');
    await expect(b).resolves.toBe('b');
    expect(log).toEqual(['a start', 'a end', 'b']);
  });

  it('runs tasks of different keys concurrently', async () => {
    const serializer = new KeyedSerializer<string>();
    const blocker = deferred();
    const blocked = serializer.run('slow', () => blocker.promise);
    let other = false;
    await serializer.run('fast', () => {
      other = true;
    });
    expect(other).toBe(true);
    blocker.resolve();
    await blocked;
  });

  it('a failing task rejects its own caller and does not block the next one', async () => {
    const serializer = new KeyedSerializer<string>();
    const failing = deferred();
    const a = serializer.run('k', () => failing.promise);
    const b = serializer.run('k', () => {
      throw new Error('thrown');
    });
    const c = serializer.run('k', () => 'c');
    failing.reject(new Error('rejected'));
    await expect(a).rejects.toThrow('rejected');
    await expect(b).rejects.toThrow('thrown');
    await expect(c).resolves.toBe('c');
  });

  it('forgets a key once its last task settles, so the map does not grow with the keys ever used', async () => {
    const serializer = new KeyedSerializer<number>();
    const runs: Promise<unknown>[] = [];
    for (let key = 0; key < 1_000; key++) {
      runs.push(serializer.run(key, () => key));
      runs.push(serializer.run(key, () => Promise.reject(new Error(`fails ${key}`))));
    }
    expect(serializer.pendingKeys).toBe(1_000);
    await Promise.allSettled(runs);
    await settle();
    expect(serializer.pendingKeys).toBe(0);
  });

  it('keeps a key while a task queued after a settled one still runs', async () => {
    const serializer = new KeyedSerializer<string>();
    await serializer.run('k', () => 1);
    const blocker = deferred();
    const running = serializer.run('k', () => blocker.promise);
    await settle();
    expect(serializer.pendingKeys).toBe(1);
    blocker.resolve();
    await running;
    await settle();
    expect(serializer.pendingKeys).toBe(0);
  });

  it('never overlaps two tasks of a key and keeps their order, whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ key: fc.constantFrom('a', 'b', 'c'), ticks: fc.nat(3), fails: fc.boolean() }), {
          maxLength: 40,
        }),
        async (tasks) => {
          const serializer = new KeyedSerializer<string>();
          const running = new Map<string, number>();
          let overlaps = 0;
          const order = new Map<string, number[]>();
          const runs = tasks.map((task, index) =>
            serializer.run(task.key, async () => {
              // Counted, not asserted here: the task's own rejection would be swallowed with the others.
              if ((running.get(task.key) ?? 0) !== 0) overlaps++;
              running.set(task.key, 1);
              order.set(task.key, [...(order.get(task.key) ?? []), index]);
              for (let tick = 0; tick < task.ticks; tick++) await Promise.resolve();
              running.set(task.key, 0);
              if (task.fails) throw new Error(`task ${index}`);
            }),
          );
          await Promise.allSettled(runs);
          expect(overlaps).toBe(0);
          for (const [key, indexes] of order) {
            const expected = tasks.flatMap((task, index) => (task.key === key ? [index] : []));
            expect(indexes).toEqual(expected);
          }
          await settle();
          expect(serializer.pendingKeys).toBe(0);
        },
      ),
    );
  });
});
