import { CLI_ENTRY, startHubProcess } from '@shelfsync/cli';
import { verifyStoreToken } from '@shelfsync/hub';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const run = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], { encoding: 'utf8' });

describe('shelfsync CLI', () => {
  it('starts a hub whose generated secret begins with a dash (it is passed as --secret=value)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shelfsync-dash-'));
    try {
      const hub = await startHubProcess(
        { port: 0, dataDir: dir, secret: '-a-secret-that-starts-with-a-dash' },
        { nodeArgs: ['--import', 'tsx'], env: { SHELFSYNC_LOG_LEVEL: 'warn' } },
      );
      expect(hub.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      await hub.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('token prints the token alone on stdout, bound to the store and the secret', () => {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', CLI_ENTRY, 'token', '--store', 'north', '--secret', 'a-secret-of-16-chars'],
      { encoding: 'utf8' },
    );
    expect(out).toMatch(/^ss1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
    expect(verifyStoreToken(out.trim(), 'a-secret-of-16-chars')).toBe('north');
    expect(verifyStoreToken(out.trim(), 'another-secret-16-chars')).toBeNull();
  });

  it('through npm, as documented, stdout is still the token alone', () => {
    const root = new URL('..', import.meta.url);
    const result = spawnSync(
      'npm',
      ['run', 'shelfsync', '--', 'token', '--store', 'north', '--secret', 'a-secret-of-16-chars'],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^ss1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
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
    const badPort = run('hub', '--port', 'eighty', '--data', '/tmp/x', '--secret', 'a-secret-of-16-chars');
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
        '--token',
        't',
      ],
    ]) {
      const result = run(...command);
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/^shelfsync: cannot use data directory \/dev\/null\/\w+: ENOTDIR/);
      expect(result.stderr).not.toContain('    at ');
    }
  });
});
