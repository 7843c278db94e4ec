import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SecretFileError, TokenSet, readSecretFile, readTokenLines } from '../src/secret-file.js';

const dir = mkdtempSync(join(tmpdir(), 'shelfsync-secret-file-'));
const file = (name: string, contents: string, mode = 0o600): string => {
  const path = join(dir, name);
  writeFileSync(path, contents, { mode });
  chmodSync(path, mode);
  return path;
};

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('secret files', () => {
  it('are read trimmed when only their owner can read them', () => {
    expect(readSecretFile(file('ok', '  a-secret-of-16-chars\n'), 'secret')).toBe('a-secret-of-16-chars');
    expect(readSecretFile(file('ro', 'x\n', 0o400), 'secret')).toBe('x');
  });

  it('are refused in one line when others may read them, when missing, or when not a file', () => {
    const loose = file('loose', 'a-secret-of-16-chars', 0o640);
    expect(() => readSecretFile(loose, 'secret')).toThrow(
      new SecretFileError(`secret file ${loose}: readable by others (mode 640); chmod 600 ${loose}`),
    );
    expect(() => readSecretFile(join(dir, 'absent'), 'API token')).toThrow(
      `API token file ${join(dir, 'absent')}: no such file`,
    );
    expect(() => readSecretFile(dir, 'secret')).toThrow('not a regular file');
  });

  it('hold one token a line, skipping blanks and comments, each long enough', () => {
    expect(
      readTokenLines(file('list', '# old\nfirst-token-0123456789\n\n second-token-0123456789 \n'), 'API token', 16),
    ).toEqual(['first-token-0123456789', 'second-token-0123456789']);
    expect(() => readTokenLines(file('empty', '# none\n'), 'API token', 16)).toThrow('no token in it');
    expect(() => readTokenLines(file('short', 'long-enough-token-1\nshort\n'), 'API token', 16)).toThrow(
      'token 2 is shorter',
    );
  });
});

describe('token sets', () => {
  it('accept any of their tokens and nothing else', () => {
    const tokens = TokenSet.of(['first-token-0123456789', 'second-token-0123456789']);
    expect(tokens.matches('first-token-0123456789')).toBe(true);
    expect(tokens.matches('second-token-0123456789')).toBe(true);
    expect(tokens.matches('')).toBe(false);
    expect(tokens.matches('first-token-012345678')).toBe(false);
    expect(TokenSet.of([]).matches('anything')).toBe(false);
  });

  it('follow their file: a token is added and retired without a restart; a broken file keeps the last good set', () => {
    let now = 0;
    const path = file('follow', 'first-token-0123456789\n');
    const reloads: (string | null)[] = [];
    const tokens = TokenSet.fromFile(
      path,
      'API token',
      16,
      (error) => reloads.push(error?.message ?? null),
      () => now,
    );
    expect(tokens.matches('second-token-0123456789')).toBe(false);
    file('follow', 'first-token-0123456789\nsecond-token-0123456789\n');
    now += 1_000;
    expect(tokens.matches('second-token-0123456789')).toBe(true);
    expect(tokens.size).toBe(2);
    file('follow', 'second-token-0123456789\n');
    now += 1_000;
    expect(tokens.matches('first-token-0123456789')).toBe(false);
    chmodSync(path, 0o644);
    now += 1_000;
    expect(tokens.matches('second-token-0123456789')).toBe(true);
    expect(reloads).toEqual([null, null, expect.stringContaining('readable by others') as unknown]);
  });
});
