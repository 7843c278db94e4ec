import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

/** A secret file that is missing, unreadable, or readable by others than its owner: one line says which. */
export class SecretFileError extends Error {
  override readonly name = 'SecretFileError';
}

/**
 * The contents of a secret file (trimmed), checked first: a regular file, owned
 * by this process's user, with no permission for group or others (chmod 600 or
 * 400). A secret in a file stays off the command line and out of the process
 * environment, where another process of the same user (ps, /proc) could read it.
 */
export function readSecretFile(path: string, what: string): string {
  let stat;
  try {
    stat = statSync(path);
  } catch (error) {
    throw new SecretFileError(`${what} file ${path}: ${reason(error)}`);
  }
  if (!stat.isFile()) throw new SecretFileError(`${what} file ${path}: not a regular file`);
  if ((stat.mode & 0o077) !== 0) {
    throw new SecretFileError(
      `${what} file ${path}: readable by others (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 ${path}`,
    );
  }
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new SecretFileError(`${what} file ${path}: owned by uid ${stat.uid}, not by this user (uid ${uid})`);
  }
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new SecretFileError(`${what} file ${path}: ${reason(error)}`);
  }
}

/** The tokens of a secret file, one a line (blank lines and `#` comments skipped), each `minLength`+ characters. */
export function readTokenLines(path: string, what: string, minLength: number): string[] {
  const tokens = readSecretFile(path, what)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (tokens.length === 0) throw new SecretFileError(`${what} file ${path}: no token in it`);
  const short = tokens.findIndex((token) => token.length < minLength);
  if (short >= 0) {
    throw new SecretFileError(`${what} file ${path}: token ${short + 1} is shorter than ${minLength} characters`);
  }
  return tokens;
}

/**
 * Several valid bearer tokens at once, so one can be rotated without a flag day:
 * add the new one, move the callers, remove the old. Compared in constant time
 * by digest. Read from a file, the set follows the file: a change is picked up
 * within a second, no restart; a file that turns unreadable or invalid keeps the
 * last good set and is reported.
 */
export class TokenSet {
  private digests: Buffer[];
  private checkedAt = 0;
  private seen = '';

  private constructor(
    tokens: readonly string[],
    private readonly file: {
      path: string;
      what: string;
      minLength: number;
      onReload: (error: Error | null, count: number) => void;
    } | null,
    private readonly now: () => number,
  ) {
    this.digests = tokens.map(digest);
    if (file !== null) this.seen = fingerprint(file.path);
  }

  static of(tokens: readonly string[]): TokenSet {
    return new TokenSet(tokens, null, Date.now);
  }

  /** Reads the file now (a SecretFileError stops the start) and re-reads it when it changes. */
  static fromFile(
    path: string,
    what: string,
    minLength: number,
    onReload: (error: Error | null, count: number) => void = () => {},
    now: () => number = Date.now,
  ): TokenSet {
    return new TokenSet(readTokenLines(path, what, minLength), { path, what, minLength, onReload }, now);
  }

  get size(): number {
    return this.digests.length;
  }

  /** Whether `given` is one of the tokens. */
  matches(given: string): boolean {
    this.reloadIfChanged();
    if (given === '') return false;
    const candidate = digest(given);
    let found = false;
    // Every digest is compared, so the time taken says nothing about which matched.
    for (const known of this.digests) if (timingSafeEqual(candidate, known)) found = true;
    return found;
  }

  private reloadIfChanged(): void {
    if (this.file === null || this.now() - this.checkedAt < 1_000) return;
    this.checkedAt = this.now();
    const seen = fingerprint(this.file.path);
    if (seen === this.seen) return;
    this.seen = seen;
    try {
      this.digests = readTokenLines(this.file.path, this.file.what, this.file.minLength).map(digest);
      this.file.onReload(null, this.digests.length);
    } catch (error) {
      this.file.onReload(error instanceof Error ? error : new Error(String(error)), this.digests.length);
    }
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** What tells a changed file: inode, size, mtime and mode. */
function fingerprint(path: string): string {
  try {
    const stat = statSync(path);
    return `${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.mode}`;
  } catch {
    return 'missing';
  }
}

function reason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  return error instanceof Error ? error.message : String(error);
}
