import { CLI_ENTRY } from '@shelfsync/cli';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './support/ports.js';

/** The processes whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        // The state line: "pid (comm) S ppid ...": comm may hold spaces, so split after its ')'.
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe.skipIf(process.platform !== 'linux')('secrets stay off command lines and environments', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsync-secrets-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the demo starts a hub and three stores none of whose cmdline or environ holds a secret', async () => {
    const port = await freePort();
    const demo = spawn(
      process.execPath,
      ['--import', 'tsx', CLI_ENTRY, 'demo', '--port', String(port), '--data', dir],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, SHELFSYNC_LOG_LEVEL: 'warn' },
      },
    );
    const exited = new Promise<void>((resolve) => demo.once('exit', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        let output = '';
        demo.stdout.setEncoding('utf8');
        demo.stdout.on('data', (chunk: string) => {
          output += chunk;
          if (output.includes('shelfsync demo is running')) resolve();
        });
        demo.once('exit', (code) => reject(new Error(`the demo exited with ${String(code)}: ${output}`)));
      });
      const secretsDir = join(dir, 'secrets');
      const secrets = [
        readFileSync(join(secretsDir, 'hub-secret'), 'utf8').trim(),
        readFileSync(join(dir, 'hub', 'api-token'), 'utf8').trim(),
        ...readdirSync(secretsDir)
          .filter((name) => name.endsWith('.token'))
          .map((name) => readFileSync(join(secretsDir, name), 'utf8').trim()),
      ];
      expect(secrets).toHaveLength(5);
      for (const secret of secrets) expect(secret.length).toBeGreaterThanOrEqual(16);

      const children = childrenOf(demo.pid ?? -1);
      expect(children).toHaveLength(4);
      const cmdlines: string[] = [];
      for (const pid of [demo.pid ?? -1, ...children]) {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
        const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
        cmdlines.push(cmdline);
        for (const secret of secrets) {
          expect(cmdline, `cmdline of ${pid}`).not.toContain(secret);
          expect(environ, `environ of ${pid}`).not.toContain(secret);
        }
      }
      // They are the hub and the stores, reading their secrets from files.
      expect(cmdlines.filter((line) => line.includes(' hub ') && line.includes('--secret-file'))).toHaveLength(1);
      expect(cmdlines.filter((line) => line.includes(' store ') && line.includes('--token-file'))).toHaveLength(3);
    } finally {
      demo.kill('SIGTERM');
      await exited;
    }
  }, 120_000);
});
