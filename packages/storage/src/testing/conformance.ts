import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StorageAdapter, StorageKey } from '../storage-adapter.js';

/** What one conformance run needs: a fresh adapter, optionally a way to reopen its data, and cleanup. */
export interface AdapterUnderTest {
  readonly adapter: StorageAdapter;
  /** Reopens the same data after `adapter.close()`: adapters that persist must provide it. */
  readonly reopen?: () => Promise<StorageAdapter>;
  readonly teardown: () => Promise<void>;
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

/**
 * The contract every StorageAdapter must keep, as one vitest suite. A new
 * adapter proves itself with one call: `runStorageAdapterTests('mine', setup)`.
 */
export function runStorageAdapterTests(name: string, setup: () => Promise<AdapterUnderTest>): void {
  describe(`StorageAdapter conformance: ${name}`, () => {
    let subject: AdapterUnderTest;
    let adapter: StorageAdapter;
    beforeEach(async () => {
      subject = await setup();
      adapter = subject.adapter;
    });
    afterEach(async () => {
      await subject.teardown();
    });

    it('loads undefined for a missing key, and what was saved otherwise', async () => {
      expect(await adapter.load(['a'])).toBeUndefined();
      await adapter.save(['a', 'b'], bytes(1, 2, 3));
      expect(await adapter.load(['a', 'b'])).toEqual(bytes(1, 2, 3));
      expect(await adapter.load(['a'])).toBeUndefined();
    });

    it('overwrites, and stores empty values', async () => {
      await adapter.save(['k'], bytes(1));
      await adapter.save(['k'], bytes(2, 2));
      expect(await adapter.load(['k'])).toEqual(bytes(2, 2));
      await adapter.save(['empty'], new Uint8Array(0));
      expect(await adapter.load(['empty'])).toEqual(new Uint8Array(0));
    });

    it('keeps its own copies: mutating what was saved or loaded changes nothing stored', async () => {
      const input = bytes(1, 2, 3);
      await adapter.save(['k'], input);
      input[0] = 9;
      const output = await adapter.load(['k']);
      if (output === undefined) throw new Error('missing');
      output[1] = 9;
      const [chunk] = await adapter.loadRange(['k']);
      if (chunk === undefined) throw new Error('missing');
      chunk.data[2] = 9;
      expect(await adapter.load(['k'])).toEqual(bytes(1, 2, 3));
      const batched = bytes(4, 5);
      await adapter.writeBatch([{ key: ['b'], data: batched }]);
      batched[0] = 9;
      expect(await adapter.load(['b'])).toEqual(bytes(4, 5));
    });

    it('removes keys; removing a missing key is fine', async () => {
      await adapter.save(['k'], bytes(1));
      await adapter.remove(['k']);
      await adapter.remove(['never']);
      expect(await adapter.load(['k'])).toBeUndefined();
    });

    it('loadRange and keys match by whole segments, in key order', async () => {
      const keys: StorageKey[] = [['a', 'c'], ['ab'], ['a'], ['a', 'b', 'x'], ['a', 'b'], ['b'], ['a', 'B']];
      for (const [i, key] of keys.entries()) await adapter.save(key, bytes(i));
      const expected = [['a'], ['a', 'B'], ['a', 'b'], ['a', 'b', 'x'], ['a', 'c']];
      expect(await adapter.keys(['a'])).toEqual(expected);
      const range = await adapter.loadRange(['a']);
      expect(range.map((c) => c.key)).toEqual(expected);
      expect(range.map((c) => c.data)).toEqual([bytes(2), bytes(6), bytes(4), bytes(3), bytes(0)]);
      expect(await adapter.keys(['zzz'])).toEqual([]);
      expect(await adapter.loadRange(['a', 'b', 'x', 'y'])).toEqual([]);
    });

    it('orders segment by segment in byte order, whatever the characters next to the separator', async () => {
      // A separator other than one below every allowed character (e.g. '/') would
      // put ['k', 'a!'] before ['k', 'a', 'b']: the order must be segment-wise.
      const sorted: StorageKey[] = [
        ['k'],
        ['k', '!'],
        ['k', 'A'],
        ['k', 'a'],
        ['k', 'a', '!'],
        ['k', 'a', 'b'],
        ['k', 'a', 'b', '~'],
        ['k', 'a!'],
        ['k', 'a-'],
        ['k', 'a/'],
        ['k', 'b'],
        ['k', '~'],
      ];
      const outside: StorageKey[] = [['j'], ['k!'], ['kk'], ['l']];
      // Saved in a scrambled order, so an adapter that returns insertion order fails.
      const all = [...sorted, ...outside];
      for (let i = 0; i < all.length; i++) await adapter.save(all[(i * 7) % all.length] as StorageKey, bytes(i));
      expect(await adapter.keys(['k'])).toEqual(sorted);
      expect((await adapter.loadRange(['k'])).map((c) => c.key)).toEqual(sorted);
      expect(await adapter.keys(['k', 'a'])).toEqual(sorted.slice(3, 7));
    });

    it('removeRange removes exactly the keys under the prefix', async () => {
      for (const key of [['a'], ['a', 'b'], ['ab'], ['b']]) await adapter.save(key, bytes(1));
      await adapter.removeRange(['a']);
      expect(await adapter.keys(['a'])).toEqual([]);
      expect(await adapter.load(['ab'])).toEqual(bytes(1));
      expect(await adapter.load(['b'])).toEqual(bytes(1));
      await adapter.removeRange(['nothing', 'here']);
      expect(await adapter.keys(['ab'])).toEqual([['ab']]);
    });

    it('writeBatch applies saves and removals together, or nothing when one key is invalid', async () => {
      await adapter.save(['old'], bytes(1));
      await adapter.writeBatch([
        { key: ['new'], data: bytes(2) },
        { key: ['old'], remove: true },
      ]);
      expect(await adapter.load(['new'])).toEqual(bytes(2));
      expect(await adapter.load(['old'])).toBeUndefined();
      await expect(
        adapter.writeBatch([
          { key: ['x'], data: bytes(3) },
          { key: ['new'], remove: true },
          { key: ['bad key'], data: bytes(4) },
        ]),
      ).rejects.toThrow();
      expect(await adapter.load(['x'])).toBeUndefined();
      expect(await adapter.load(['new'])).toEqual(bytes(2));
      await adapter.writeBatch([]);
      expect(await adapter.keys(['new'])).toEqual([['new']]);
    });

    it('applies overlapping calls in call order', async () => {
      const writes = Array.from({ length: 200 }, (_, i) =>
        adapter.save(['n', String(i).padStart(3, '0')], bytes(i % 256)),
      );
      const last = adapter.save(['n', '000'], bytes(42));
      await Promise.all([...writes, last]);
      const stored = await adapter.loadRange(['n']);
      expect(stored).toHaveLength(200);
      expect(stored.slice(1).map((c) => c.data)).toEqual(Array.from({ length: 199 }, (_, i) => bytes(i + 1)));
      expect(await adapter.load(['n', '000'])).toEqual(bytes(42));
    });

    it('refuses invalid keys in every method, and stores nothing', async () => {
      const invalid: StorageKey[] = [[], [''], ['a b'], ['a\u0000b'], ['é'], ['\u007f'], ['tab\t'], ['ok', '']];
      for (const key of invalid) {
        const name = JSON.stringify(key);
        await expect(adapter.save(key, bytes(1)), name).rejects.toThrow();
        await expect(adapter.load(key), name).rejects.toThrow();
        await expect(adapter.remove(key), name).rejects.toThrow();
        await expect(adapter.loadRange(key), name).rejects.toThrow();
        await expect(adapter.keys(key), name).rejects.toThrow();
        await expect(adapter.removeRange(key), name).rejects.toThrow();
        await expect(adapter.writeBatch([{ key, data: bytes(1) }]), name).rejects.toThrow();
        await expect(adapter.writeBatch([{ key, remove: true }]), name).rejects.toThrow();
      }
      expect(await adapter.keys(['ok'])).toEqual([]);
      expect(await adapter.keys(['a'])).toEqual([]);
    });

    it('flushes, then rejects every call after close', async () => {
      await adapter.save(['k'], bytes(1));
      await adapter.flush();
      await adapter.flush(); // nothing new to flush: resolves all the same
      await adapter.close();
      await expect(adapter.load(['k'])).rejects.toThrow(Error);
      await expect(adapter.save(['k'], bytes(2))).rejects.toThrow(Error);
      await expect(adapter.remove(['k'])).rejects.toThrow(Error);
      await expect(adapter.loadRange(['k'])).rejects.toThrow(Error);
      await expect(adapter.keys(['k'])).rejects.toThrow(Error);
      await expect(adapter.removeRange(['k'])).rejects.toThrow(Error);
      await expect(adapter.writeBatch([{ key: ['k'], data: bytes(3) }])).rejects.toThrow(Error);
      await expect(adapter.flush()).rejects.toThrow(Error);
      await adapter.close(); // closing twice is harmless
    });

    it('rejects calls made while close is still running', async () => {
      await adapter.save(['k'], bytes(1));
      // In call order, these come after close: they must not be applied, and
      // in particular not be acknowledged and then lost when the adapter shuts.
      const closing = adapter.close();
      const late = [adapter.save(['late'], bytes(2)), adapter.load(['k']), adapter.flush()];
      const again = adapter.close();
      for (const call of late) await expect(call).rejects.toThrow(Error);
      await Promise.all([closing, again]);
      if (subject.reopen === undefined) return;
      const reopened = await subject.reopen();
      expect(await reopened.load(['k'])).toEqual(bytes(1));
      expect(await reopened.load(['late'])).toBeUndefined();
      await reopened.close();
    });

    it('keeps data across close and reopen (persistent adapters)', async (context) => {
      if (subject.reopen === undefined) {
        context.skip();
        return;
      }
      await adapter.save(['flushed'], bytes(1));
      await adapter.flush();
      await adapter.save(['closed'], bytes(2));
      await adapter.save(['gone'], bytes(5));
      await adapter.save(['range', 'a'], bytes(6));
      await adapter.flush();
      await adapter.writeBatch([
        { key: ['batch'], data: bytes(3) },
        { key: ['flushed', 'x'], data: bytes(4) },
      ]);
      await adapter.remove(['gone']);
      await adapter.removeRange(['range']);
      await adapter.close();
      const reopened = await subject.reopen();
      expect(await reopened.load(['flushed'])).toEqual(bytes(1));
      expect(await reopened.load(['closed'])).toEqual(bytes(2));
      expect(await reopened.load(['batch'])).toEqual(bytes(3));
      expect(await reopened.keys(['flushed'])).toEqual([['flushed'], ['flushed', 'x']]);
      expect(await reopened.load(['gone'])).toBeUndefined();
      expect(await reopened.keys(['range'])).toEqual([]);
      await reopened.close();
    });
  });
}
