import { applyOperation, computeStock, createSkuDoc } from '@shelfsync/core';
import { StoreIdSchema, storeAccount, storeWriter } from '@shelfsync/protocol';
import { DocStore } from '@shelfsync/storage';
import { runStorageAdapterTests } from '@shelfsync/storage/testing';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SqlJsStorageAdapter } from '../src/index.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsync-sqljs-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

runStorageAdapterTests('SqlJsStorageAdapter in memory', async () => {
  const adapter = await SqlJsStorageAdapter.open();
  return { adapter, teardown: () => adapter.close() };
});

runStorageAdapterTests('SqlJsStorageAdapter on a file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsync-sqljs-'));
  const path = join(dir, 'nested', 'db.sqlite');
  const adapter = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
  const opened: SqlJsStorageAdapter[] = [adapter];
  return {
    adapter,
    reopen: async () => {
      const again = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
      opened.push(again);
      return again;
    },
    teardown: async () => {
      for (const a of opened) await a.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqlJsStorageAdapter files', () => {
  it('writes the file atomically on flush and leaves no temporary file', async () => {
    const path = join(tempDir(), 'db.sqlite');
    const adapter = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
    await adapter.save(['k'], Uint8Array.from([1]));
    expect(existsSync(path)).toBe(false);
    await adapter.flush();
    expect(existsSync(path)).toBe(true);
    expect(existsSync(`${path}.tmp`)).toBe(false);
    await adapter.close();
  });

  it('without a journal, flushes and closes (a synchronous snapshot once left the flush lock held for ever)', async () => {
    const path = join(tempDir(), 'db.sqlite');
    const adapter = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0, journal: false });
    await adapter.save(['k'], Uint8Array.from([1]));
    await adapter.flush();
    await adapter.save(['k'], Uint8Array.from([2]));
    await Promise.all([adapter.flush(), adapter.flush()]);
    await adapter.close();
    const reopened = await SqlJsStorageAdapter.open({ path, journal: false });
    expect(await reopened.load(['k'])).toEqual(Uint8Array.from([2]));
    await reopened.close();
  });

  it('refuses a corrupt file with its name, instead of starting empty', async () => {
    const path = join(tempDir(), 'db.sqlite');
    writeFileSync(path, 'this is not a database, not even close to one, really not');
    await expect(SqlJsStorageAdapter.open({ path })).rejects.toThrow(path);
  });

  it('refuses a truncated or empty file too', async () => {
    const path = join(tempDir(), 'db.sqlite');
    const adapter = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0, journal: false });
    await adapter.writeBatch(
      Array.from({ length: 200 }, (_, i) => ({ key: ['k', String(i)], data: new Uint8Array(500) })),
    );
    await adapter.close();
    const whole = readFileSync(path);
    writeFileSync(path, whole.subarray(0, whole.length >> 1));
    await expect(SqlJsStorageAdapter.open({ path, journal: false })).rejects.toThrow(path);
    writeFileSync(path, new Uint8Array(0));
    await expect(SqlJsStorageAdapter.open({ path, journal: false })).rejects.toThrow(`${path}: not a readable`);
  });

  it('carries SKU documents across a restart through DocStore', async () => {
    const path = join(tempDir(), 'db.sqlite');
    const s1 = StoreIdSchema.parse('s1');
    const first = await SqlJsStorageAdapter.open({ path });
    const store = new DocStore(first);
    const doc = createSkuDoc();
    const writes: Promise<void>[] = [];
    doc.on('update', (u: Uint8Array) => writes.push(store.appendUpdate('MUG', u)));
    for (let i = 0; i < 3; i++)
      applyOperation(doc, storeWriter(s1), { type: 'receive', account: storeAccount(s1), quantity: 2 });
    await Promise.all(writes);
    await first.close();

    const second = await SqlJsStorageAdapter.open({ path });
    const loaded = createSkuDoc();
    expect(await new DocStore(second).load('MUG', loaded)).toBe(true);
    expect(computeStock(loaded).value).toBe(6);
    await second.close();
  });
});

describe('SqlJsStorageAdapter flushing', () => {
  it('keeps using its prepared statements across flushes (db.export leaves them intact)', async () => {
    const path = join(tempDir(), 'db.sqlite');
    const adapter = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0, journal: false });
    for (let round = 0; round < 3; round++) {
      await adapter.save(['k', String(round)], Uint8Array.from([round]));
      await adapter.remove(['k', String(round - 1)]);
      await adapter.flush();
      expect(await adapter.load(['k', String(round)])).toEqual(Uint8Array.from([round]));
    }
    expect(await adapter.keys(['k'])).toEqual([['k', '2']]);
    await adapter.close();
  });

  it('flushes on its timer, which does not keep the process alive', async () => {
    const path = join(tempDir(), 'db.sqlite');
    await (await SqlJsStorageAdapter.open()).close(); // loads sql.js before the timers are faked
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    vi.useFakeTimers();
    try {
      const before = timers();
      const adapter = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 1000, journal: false });
      expect(timers()).toBe(before); // unref'd
      await adapter.save(['k'], Uint8Array.from([1]));
      vi.advanceTimersByTime(999);
      expect(existsSync(path)).toBe(false);
      vi.advanceTimersByTime(1);
      expect(existsSync(path)).toBe(true);
      await adapter.close();
    } finally {
      vi.useRealTimers();
    }
    const reopened = await SqlJsStorageAdapter.open({ path, journal: false });
    expect(await reopened.load(['k'])).toEqual(Uint8Array.from([1]));
    await reopened.close();
  });

  it('a close whose flush failed refuses calls, and closing again retries the flush', async () => {
    const dir = join(tempDir(), 'data');
    const path = join(dir, 'db.sqlite');
    const adapter = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0, journal: false });
    await adapter.save(['k'], Uint8Array.from([7]));
    rmSync(dir, { recursive: true });
    await expect(adapter.close()).rejects.toThrow(/ENOENT/);
    await expect(adapter.save(['k'], Uint8Array.from([8]))).rejects.toThrow('closed');
    mkdirSync(dir);
    await adapter.close();
    const reopened = await SqlJsStorageAdapter.open({ path, journal: false });
    expect(await reopened.load(['k'])).toEqual(Uint8Array.from([7]));
    await reopened.close();
  });
});
