import { spawn } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Journal, SqlJsStorageAdapter, readJournalFile } from '../src/index.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsync-journal-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const bytes = (...v: number[]): Uint8Array => Uint8Array.from(v);

describe('Journal', () => {
  it('returns every appended batch after a reopen, in order', async () => {
    const path = join(tempDir(), 'j');
    const { journal } = await Journal.open(path);
    await journal.append([{ key: ['a'], data: bytes(1) }]);
    await journal.append([
      { key: ['b', 'c'], data: bytes(2, 3) },
      { key: ['a'], remove: true },
    ]);
    await journal.close();
    const { journal: again, batches, tornBytes } = await Journal.open(path);
    expect(tornBytes).toBe(0);
    expect(batches).toEqual([
      [{ key: ['a'], data: bytes(1) }],
      [
        { key: ['b', 'c'], data: bytes(2, 3) },
        { key: ['a'], remove: true },
      ],
    ]);
    await again.close();
  });

  it('group-commits: many concurrent appends share few fsyncs', async () => {
    const { journal } = await Journal.open(join(tempDir(), 'j'));
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => journal.append([{ key: ['k', String(i)], data: bytes(i % 256) }])),
    );
    expect(journal.syncs).toBeGreaterThan(0);
    expect(journal.syncs).toBeLessThan(50);
    await journal.close();
  });

  it('cuts a torn last record, at any length, and keeps every whole one', async () => {
    const path = join(tempDir(), 'j');
    const { journal } = await Journal.open(path);
    await journal.append([{ key: ['a'], data: bytes(1) }]);
    await journal.close();
    const whole = statSync(path).size;
    const { journal: second } = await Journal.open(path);
    await second.append([{ key: ['b'], data: bytes(2, 2, 2, 2) }]);
    await second.close();
    const full = readFileSync(path);
    for (let cut = whole + 1; cut < full.length; cut++) {
      writeFileSync(path, full.subarray(0, cut));
      const { journal: reopened, batches, tornBytes } = await Journal.open(path);
      expect(batches, `cut at ${cut}`).toEqual([[{ key: ['a'], data: bytes(1) }]]);
      expect(tornBytes).toBe(cut - whole);
      expect(statSync(path).size).toBe(whole);
      await reopened.close();
    }
  });

  it('refuses to open a journal damaged before its end, naming the file', async () => {
    const path = join(tempDir(), 'j');
    const { journal } = await Journal.open(path);
    await journal.append([{ key: ['a'], data: bytes(1) }]);
    await journal.append([{ key: ['b'], data: bytes(2) }]);
    await journal.close();
    const file = readFileSync(path);
    file[10] = (file[10] ?? 0) ^ 0xff; // inside the first record's payload
    writeFileSync(path, file);
    await expect(Journal.open(path)).rejects.toThrow(path);
    expect(() => readJournalFile(path)).toThrow(/corrupt/);
  });
});

/**
 * Makes a journal's file behave like a disk that fills up: the first write waits
 * for `release` (so later appends gather into one group), the next is cut short
 * after `shortFraction` of its bytes, and every write after that fails with ENOSPC.
 */
function fillingDisk(
  journal: Journal,
  shortFraction: number,
  firstFails = false,
): { release: () => void; reached: Promise<void> } {
  const handle = (journal as unknown as { handle: FileHandle }).handle;
  const write = handle.write.bind(handle) as (b: Buffer, o: number, l: number) => Promise<{ bytesWritten: number }>;
  let calls = 0;
  let release = (): void => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  let reach = (): void => {};
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const patched = async (buffer: Buffer, offset: number, length: number) => {
    calls++;
    if (calls === 1) {
      reach();
      await gate;
      if (firstFails) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return write(buffer, offset, length);
    }
    if (calls === 2) return write(buffer, offset, Math.ceil(length * shortFraction));
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  };
  (handle as unknown as { write: typeof patched }).write = patched;
  return { release, reached };
}

describe('Journal on a disk that fills up', () => {
  it('a group that fails is cut back: whole records of it do not come back at restart', async () => {
    const path = join(tempDir(), 'j');
    const { journal } = await Journal.open(path);
    const a = [{ key: ['a'], data: bytes(1) }];
    const x = [{ key: ['x'], data: bytes(9) }];
    await journal.append(a);
    const disk = fillingDisk(journal, 0.75);
    const first = journal.append(x);
    // Two records of the same size, one group: 75% of it holds all of b and part of c.
    const b = journal.append([{ key: ['b'], data: new Uint8Array(64).fill(2) }]);
    const c = journal.append([{ key: ['c'], data: new Uint8Array(64).fill(3) }]);
    disk.release();
    await first;
    await expect(b).rejects.toMatchObject({ name: 'StorageWriteError', recorded: 'no' });
    await expect(c).rejects.toMatchObject({ recorded: 'no' });
    expect(journal.failed?.message).toMatch(/ENOSPC/);
    await expect(journal.append(a)).rejects.toMatchObject({ recorded: 'no' });
    await journal.close();

    const reopened = await Journal.open(path);
    expect(reopened.tornBytes).toBe(0);
    expect(reopened.batches).toEqual([a, x]);
    await reopened.journal.close();
  });
});

describe('SqlJsStorageAdapter with its journal', () => {
  it('a journal that fails while a snapshot waits for it stops the snapshot', async () => {
    const path = join(tempDir(), 'db.sqlite');
    const adapter = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
    await adapter.save(['kept'], bytes(1));
    const journal = (adapter as unknown as { journal: Journal }).journal;
    const disk = fillingDisk(journal, 0, true);
    const refused = adapter.save(['refused'], bytes(2));
    await disk.reached;
    // The snapshot's rotation waits for the write in flight, which then fails.
    const flushed = adapter.flush();
    disk.release();
    await expect(refused).rejects.toMatchObject({ recorded: 'no' });
    await expect(flushed).rejects.toMatchObject({ name: 'StorageWriteError' });
    await adapter.close();

    const reopened = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
    expect(await reopened.load(['kept'])).toEqual(bytes(1));
    expect(await reopened.load(['refused'])).toBeUndefined();
    await reopened.close();
  });

  it('a batch a snapshot caught while its journal write waited, and whose write then failed, is "unknown"', async () => {
    const path = join(tempDir(), 'db.sqlite');
    const adapter = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
    await adapter.save(['kept'], bytes(1));
    // The journal file the rotation opens is on a full disk: its first write fails, a turn later.
    const journal = adapter as unknown as { journal: Journal };
    const inner = journal.journal as unknown as { handle: FileHandle };
    let current = inner.handle;
    Object.defineProperty(inner, 'handle', {
      configurable: true,
      get: () => current,
      set: (fresh: FileHandle) => {
        (fresh as unknown as { write: () => Promise<never> }).write = async () => {
          await new Promise((resolve) => setImmediate(resolve));
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        };
        current = fresh;
      },
    });
    const flushed = adapter.flush();
    // Applied while the journal rotates: it waits for the new file, and the snapshot holds it.
    const caught = adapter.save(['caught'], bytes(2));
    await flushed;
    await expect(caught).rejects.toMatchObject({ name: 'StorageWriteError', recorded: 'unknown' });
    await adapter.close();

    const reopened = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
    expect(await reopened.load(['caught'])).toEqual(bytes(2));
    await reopened.close();
  });

  it('a failed snapshot keeps its retired journal: the next one does not replace it', async () => {
    const path = join(tempDir(), 'db.sqlite');
    const adapter = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
    await adapter.save(['a'], bytes(1));
    // The snapshot cannot be written (its temporary file's name is taken by a directory).
    mkdirSync(`${path}.tmp`);
    await expect(adapter.flush()).rejects.toThrow();
    await adapter.save(['b'], bytes(2));
    await expect(adapter.flush()).rejects.toThrow();
    // Were the process to die now, both acknowledged writes are in journal files.
    const keysIn = (file: string) =>
      readJournalFile(file)
        .batches.flat()
        .map((w) => w.key.join('/'));
    expect(keysIn(`${path}.journal.retired`)).toEqual(['a']);
    expect(keysIn(`${path}.journal`)).toEqual(['b']);

    rmSync(`${path}.tmp`, { recursive: true });
    await adapter.flush();
    expect(existsSync(`${path}.journal.retired`)).toBe(false);
    await adapter.save(['c'], bytes(3));
    const reopened = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
    expect([await reopened.load(['a']), await reopened.load(['b']), await reopened.load(['c'])]).toEqual([
      bytes(1),
      bytes(2),
      bytes(3),
    ]);
    await reopened.close();
    await adapter.close();
  });

  it('after a failed journal write it never snapshots: a write its caller heard fail stays failed', async () => {
    const path = join(tempDir(), 'db.sqlite');
    const adapter = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
    await adapter.save(['kept'], bytes(1));
    const journal = (adapter as unknown as { journal: Journal }).journal;
    const disk = fillingDisk(journal, 0);
    const kept = adapter.save(['kept-too'], bytes(2));
    const lost = adapter.save(['refused'], bytes(3));
    disk.release();
    await kept;
    await expect(lost).rejects.toMatchObject({ recorded: 'no' });
    // The database in memory has the refused write; neither a flush nor a close may save it.
    await expect(adapter.flush()).rejects.toMatchObject({ name: 'StorageWriteError' });
    await adapter.close();

    const reopened = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
    expect(await reopened.load(['kept'])).toEqual(bytes(1));
    expect(await reopened.load(['kept-too'])).toEqual(bytes(2));
    expect(await reopened.load(['refused'])).toBeUndefined();
    await reopened.close();
  });

  it('a resolved write survives without a snapshot or a clean close', async () => {
    const path = join(tempDir(), 'db.sqlite');
    const first = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
    await first.save(['sale', '1'], bytes(1));
    await first.writeBatch([
      { key: ['sale', '2'], data: bytes(2) },
      { key: ['sale', '1'], remove: true },
    ]);
    // No flush, no close: as if the process died here.
    const second = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
    expect(second.recovery).toEqual({ replayedBatches: 2, tornBytes: 0 });
    expect(await second.keys(['sale'])).toEqual([['sale', '2']]);
    await second.close();
    await first.close(); // only now, so that the reopen above saw no clean shutdown
  });

  it('a snapshot retires the journal; writes after it are journaled again', async () => {
    const path = join(tempDir(), 'db.sqlite');
    const adapter = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
    await adapter.save(['a'], bytes(1));
    await adapter.flush();
    expect(statSync(`${path}.journal`).size).toBe(0);
    await adapter.save(['b'], bytes(2));
    const reopened = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
    expect(reopened.recovery.replayedBatches).toBe(1);
    expect(await reopened.load(['a'])).toEqual(bytes(1));
    expect(await reopened.load(['b'])).toEqual(bytes(2));
    await reopened.close();
    await adapter.close();
  });

  it('replays a retired journal left by a crash during a snapshot', async () => {
    const path = join(tempDir(), 'db.sqlite');
    const adapter = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
    await adapter.save(['a'], bytes(1));
    await adapter.close();
    // Simulate: the journal was retired, then the process died before the snapshot landed.
    const { journal } = await Journal.open(`${path}.journal.retired`);
    await journal.append([{ key: ['b'], data: bytes(2) }]);
    await journal.close();
    appendFileSync(`${path}.journal`, Buffer.alloc(0));
    const reopened = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
    expect(await reopened.load(['b'])).toEqual(bytes(2));
    await reopened.close();
  });

  it('kill -9 at random moments: every acknowledged write is there after restart', async () => {
    const path = join(tempDir(), 'db.sqlite');
    const writer = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
    const acked = new Set<number>();
    let next = 0;
    for (let round = 0; round < 4; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', writer, path, String(next)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let output = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        output += chunk;
      });
      const target = 50 + Math.floor(Math.random() * 400);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('writer too slow')), 30_000);
        child.stdout.on('data', () => {
          if ((output.match(/^ack /gm)?.length ?? 0) >= target) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      for (const match of output.matchAll(/^ack (\d+)$/gm)) acked.add(Number(match[1]));
      next = Math.floor(Math.max(...acked) / 4) + 1;
    }
    const adapter = await SqlJsStorageAdapter.open({ path, flushIntervalMs: 0 });
    const stored = new Set((await adapter.keys(['rec'])).map((key) => Number(key[1])));
    const lost = [...acked].filter((i) => !stored.has(i));
    expect(lost).toEqual([]);
    expect(acked.size).toBeGreaterThan(100);
    await adapter.close();
  }, 120_000);
});
