import { CLI_ENTRY, startHubProcess, writeSecretFile } from '@shelfsync/cli';
import { keyIdOf, verifyStoreToken } from '@shelfsync/hub';
import { readStoreTokenClaims } from '@shelfsync/protocol';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const run = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], { encoding: 'utf8' });
const secrets = mkdtempSync(join(tmpdir(), 'shelfsync-cli-secrets-'));
const SECRET = 'a-secret-of-16-chars';
const secretFile = writeSecretFile(join(secrets, 'secret'), SECRET);
const keys = (kid: string) => (kid === keyIdOf(SECRET) ? ({ state: 'active', secret: SECRET } as const) : undefined);

describe('shelfsync CLI', () => {
  afterAll(() => rmSync(secrets, { recursive: true, force: true }));

  it('starts a hub whose secret, in its file, begins with a dash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shelfsync-dash-'));
    try {
      const hub = await startHubProcess(
        {
          port: 0,
          dataDir: dir,
          secretFile: writeSecretFile(join(dir, 'secret'), '-a-secret-that-starts-with-a-dash'),
        },
        { nodeArgs: ['--import', 'tsx'], env: { SHELFSYNC_LOG_LEVEL: 'warn' } },
      );
      expect(hub.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      await hub.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('token prints the token alone on stdout, bound to the store, the key and a 30-day expiry by default', () => {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', CLI_ENTRY, 'token', '--store', 'north', '--secret-file', secretFile],
      { encoding: 'utf8' },
    );
    expect(out).toMatch(/^ss2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    const verified = verifyStoreToken(out.trim(), keys);
    expect(verified.ok && verified.claims).toMatchObject({ sub: 'north', kid: keyIdOf(SECRET) });
    if (!verified.ok) return;
    expect(verified.claims.exp - verified.claims.iat).toBeCloseTo(30 * 86_400, 0);
    const other = (kid: string) =>
      kid === keyIdOf(SECRET) ? ({ state: 'active', secret: 'another-secret-16-chars' } as const) : undefined;
    expect(verifyStoreToken(out.trim(), other)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('token --ttl takes a readable duration, and refuses one it cannot read', () => {
    const out = run('token', '--store', 'north', '--secret-file', secretFile, '--ttl', '1h30m');
    expect(out.status).toBe(0);
    const read = readStoreTokenClaims(out.stdout.trim());
    expect(read.ok && Math.round(read.claims.exp - read.claims.iat)).toBe(5_400);
    for (const ttl of ['90', '2x', '0s', '400d']) {
      const bad = run('token', '--store', 'north', '--secret-file', secretFile, '--ttl', ttl);
      expect(bad.status, ttl).toBe(2);
      expect(bad.stderr).toContain('--ttl');
    }
  });

  it('refuses a secret file others can read, or one it does not find, in one line with exit code 1', () => {
    const open = writeSecretFile(join(secrets, 'open'), SECRET);
    chmodSync(open, 0o644);
    const loose = run('token', '--store', 'north', '--secret-file', open);
    expect(loose.status).toBe(1);
    expect(loose.stderr).toBe(`shelfsync: secret file ${open}: readable by others (mode 644); chmod 600 ${open}\n`);
    const missing = run(
      'hub',
      '--port',
      '0',
      '--data',
      join(secrets, 'hub'),
      '--secret-file',
      secretFile,
      '--api-token-file',
      join(secrets, 'none'),
    );
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(`shelfsync: API token file ${join(secrets, 'none')}: no such file\n`);
    const both = run('token', '--store', 'north', '--secret-file', secretFile, '--secret', SECRET);
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('give one of them');
  });

  it('through npm, as documented, stdout is still the token alone', () => {
    const root = new URL('..', import.meta.url);
    const result = spawnSync(
      'npm',
      ['run', 'shelfsync', '--', 'token', '--store', 'north', '--secret-file', secretFile],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^ss2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
  });

  it('explains each command with --help', () => {
    for (const command of ['hub', 'store', 'token', 'proxy', 'demo']) {
      const result = run(command, '--help');
      expect(result.status, command).toBe(0);
      expect(result.stdout).toContain(`usage: shelfsync ${command}`);
    }
    expect(run('--help').stdout).toContain('shelfsync <command> --help');
  });

  it('refuses bad flags with a sentence naming the flag, and exit code 2', () => {
    const missing = run('store', '--id', 'north');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('--hub (or SHELFSYNC_HUB): required');
    const badPort = run('hub', '--port', 'eighty', '--data', '/tmp/x', '--secret-file', secretFile);
    expect(badPort.status).toBe(2);
    expect(badPort.stderr).toContain('--port');
    const shortSecret = run('token', '--store', 'north', '--secret', 'short');
    expect(shortSecret.status).toBe(2);
    expect(shortSecret.stderr).toContain('at least 16 characters');
    const unknown = run('token', '--bogus', '1');
    expect(unknown.status).toBe(2);
    expect(run('fly').status).toBe(2);
  });

  it('refuses a data directory it cannot write, naming it, with exit code 1 and no stack trace', () => {
    // A path under a regular file can never be a directory, whoever runs the test.
    for (const command of [
      ['hub', '--port', '0', '--data', '/dev/null/hub'],
      [
        'store',
        '--id',
        'north',
        '--hub',
        'ws://127.0.0.1:9',
        '--port',
        '0',
        '--data',
        '/dev/null/north',
        '--token-file',
        secretFile,
      ],
    ]) {
      const result = run(...command);
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/^shelfsync: cannot use data directory \/dev\/null\/\w+: ENOTDIR/);
      expect(result.stderr).not.toContain('    at ');
    }
  });
});
