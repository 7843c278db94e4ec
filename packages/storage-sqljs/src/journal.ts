import { StorageWriteError, assertKey, type StorageWrite } from '@shelfsync/storage';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, truncateSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';

/**
 * A write-ahead journal of storage batches. Each record is
 * `u32 length | u32 crc32(payload) | payload` (little endian), the payload one
 * encoded batch of writes. Appends are group-committed: every batch appended
 * while a write+fsync is in flight goes out in the next one, so under load many
 * batches share one fsync, and each append resolves only once its record is on disk.
 */
export class Journal {
  private pending: { record: Buffer; done: { resolve: () => void; reject: (error: Error) => void } }[] = [];
  private writing: Promise<void> | null = null;
  private failure: StorageWriteError | null = null;
  /** Bytes of whole records in the file: a failed group is cut back to this. */
  private size: number;
  /** While the file is being swapped, appends queue up and wait for the new one. */
  private rotating = false;
  /** fsyncs performed, for tests and benchmarks. */
  syncs = 0;
  /** Called with the seconds each write+fsync of a group took (for a latency histogram). */
  onSync: (seconds: number, batches: number) => void = () => {};

  private constructor(
    readonly path: string,
    private handle: FileHandle,
    size: number,
  ) {
    this.size = size;
  }

  /**
   * Opens (or creates) the journal and returns the batches it holds. A torn last
   * record (cut short by a crash) is removed; a damaged record followed by more
   * data is corruption, and opening fails with an error naming the file.
   */
  static async open(path: string): Promise<{ journal: Journal; batches: StorageWrite[][]; tornBytes: number }> {
    mkdirSync(dirname(path), { recursive: true });
    const { batches, validBytes, tornBytes } = readJournalFile(path);
    if (tornBytes > 0) {
      truncateSync(path, validBytes);
      syncFile(path);
    }
    const handle = await open(path, 'a');
    return { journal: new Journal(path, handle, validBytes), batches, tornBytes };
  }

  /** The write failure that stopped this journal, or null. */
  get failed(): StorageWriteError | null {
    return this.failure;
  }

  /**
   * Appends one batch; resolves once it is durable. Rejects with a
   * StorageWriteError, and keeps rejecting, after a write fails.
   */
  append(writes: readonly StorageWrite[]): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.refusal());
    const record = encodeRecord(writes);
    return new Promise((resolve, reject) => {
      this.pending.push({ record, done: { resolve, reject } });
      if (!this.rotating) this.writing ??= this.drain();
    });
  }

  /**
   * Starts a new, empty journal file and moves the current one to `retiredPath`
   * (replacing an older retired file). Appends made meanwhile go to the new file.
   * The caller deletes the retired file once a snapshot covering it is durable.
   */
  async rotate(retiredPath: string): Promise<void> {
    this.rotating = true;
    try {
      while (this.writing !== null) await this.writing;
      await this.handle.close();
      renameSync(this.path, retiredPath);
      this.handle = await open(this.path, 'a');
      this.size = 0;
      syncDirectory(this.path);
    } finally {
      this.rotating = false;
    }
    if (this.pending.length > 0) this.writing ??= this.drain();
  }

  /** Truncates the file to its durable records; false if even that failed. */
  private async cutBack(): Promise<boolean> {
    try {
      await this.handle.truncate(this.size);
      await this.handle.datasync();
      return true;
    } catch {
      return false;
    }
  }

  /** What an append after the failure gets: none of it was written. */
  private refusal(): StorageWriteError {
    return new StorageWriteError(`journal ${this.path} stopped after a failed write; nothing more is accepted`, 'no', {
      cause: this.failure,
    });
  }

  async close(): Promise<void> {
    while (this.writing !== null) await this.writing;
    await this.handle.close();
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        try {
          // A write may be short (a nearly full disk): loop until it is whole
          // or fails, never count a partly written batch as written.
          const started = performance.now();
          const bytes = Buffer.concat(batch.map((p) => p.record));
          for (let at = 0; at < bytes.length;) {
            const { bytesWritten } = await this.handle.write(bytes, at, bytes.length - at);
            if (bytesWritten <= 0) throw new Error('the disk accepted no bytes');
            at += bytesWritten;
          }
          await this.handle.datasync();
          this.size += bytes.length;
          this.syncs++;
          this.onSync((performance.now() - started) / 1000, batch.length);
          for (const p of batch) p.done.resolve();
        } catch (error) {
          // Whole records of the failed group may already be in the file and
          // would come back at restart, though their callers heard "failed".
          // Cut the file back to the last durable group, so they do not.
          const recorded = (await this.cutBack()) ? 'no' : 'unknown';
          this.failure = new StorageWriteError(
            `journal ${this.path}: write failed, nothing more is accepted (${String(error)})${recorded === 'no' ? '' : '; the failed writes may be found again at restart'}`,
            recorded,
            { cause: error },
          );
          for (const p of batch) p.done.reject(this.failure);
          for (const p of this.pending) p.done.reject(this.refusal());
          this.pending = [];
        }
      }
    } finally {
      this.writing = null;
    }
  }
}

const HEADER = 8;
const OP_SAVE = 0;
const OP_REMOVE = 1;

function encodeRecord(writes: readonly StorageWrite[]): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  parts.push(u32(writes.length));
  for (const write of writes) {
    assertKey(write.key);
    parts.push(Buffer.from(['remove' in write ? OP_REMOVE : OP_SAVE]), u32(write.key.length));
    for (const segment of write.key) {
      const bytes = Buffer.from(segment, 'ascii');
      parts.push(u32(bytes.length), bytes);
    }
    if (!('remove' in write)) parts.push(u32(write.data.byteLength), Buffer.from(write.data));
  }
  const payload = Buffer.concat(parts);
  const header = Buffer.alloc(HEADER);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(crc32(payload), 4);
  return Buffer.concat([header, payload]);
}

function decodePayload(payload: Buffer): StorageWrite[] {
  let at = 0;
  const u32 = (): number => {
    if (at + 4 > payload.length) throw new Error('record ends early');
    const n = payload.readUInt32LE(at);
    at += 4;
    return n;
  };
  const bytes = (n: number): Buffer => {
    if (at + n > payload.length) throw new Error('record ends early');
    const b = payload.subarray(at, at + n);
    at += n;
    return b;
  };
  const writes: StorageWrite[] = [];
  for (let count = u32(), i = 0; i < count; i++) {
    const op = bytes(1)[0];
    const key: string[] = [];
    for (let segments = u32(), j = 0; j < segments; j++) key.push(bytes(u32()).toString('ascii'));
    if (op === OP_REMOVE) writes.push({ key, remove: true });
    else if (op === OP_SAVE) writes.push({ key, data: new Uint8Array(bytes(u32())) });
    else throw new Error(`unknown operation ${String(op)}`);
  }
  if (at !== payload.length) throw new Error('trailing bytes in record');
  return writes;
}

/** The batches of a journal file that may not exist (then none). */
export function readJournalFile(path: string): { batches: StorageWrite[][]; validBytes: number; tornBytes: number } {
  return existsSync(path) ? readJournal(path) : { batches: [], validBytes: 0, tornBytes: 0 };
}

/** Reads every intact record; a damaged record that runs to the end of the file is a torn tail. */
function readJournal(path: string): { batches: StorageWrite[][]; validBytes: number; tornBytes: number } {
  const file = readFileSync(path);
  const batches: StorageWrite[][] = [];
  let at = 0;
  while (at < file.length) {
    const tail = file.length - at;
    const length = tail >= HEADER ? file.readUInt32LE(at) : -1;
    const intact =
      length >= 0 &&
      HEADER + length <= tail &&
      crc32(file.subarray(at + HEADER, at + HEADER + length)) === file.readUInt32LE(at + 4);
    if (!intact) {
      // A crash can only cut the last record short: damage that does not reach
      // the end of the file means the file itself is corrupt.
      const reachesEnd = length < 0 || HEADER + length >= tail;
      if (reachesEnd) return { batches, validBytes: at, tornBytes: tail };
      throw new Error(
        `journal ${path} is corrupt at byte ${at}: refusing to start rather than lose or misread acknowledged writes`,
      );
    }
    try {
      batches.push(decodePayload(file.subarray(at + HEADER, at + HEADER + length)));
    } catch (error) {
      throw new Error(`journal ${path} has an unreadable record at byte ${at} (${String(error)})`, { cause: error });
    }
    at += HEADER + length;
  }
  return { batches, validBytes: at, tornBytes: 0 };
}

function syncDirectory(path: string): void {
  syncFile(dirname(path));
}

function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
