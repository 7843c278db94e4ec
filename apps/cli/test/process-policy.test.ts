import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT_UNHANDLED } from '../src/process-policy.js';

const POLICY = fileURLToPath(new URL('../src/process-policy.ts', import.meta.url));

/** Runs `body` in a fresh Node process with the policy installed; resolves with its exit code and stderr. */
function run(body: string): Promise<{ code: number | null; stderr: string }> {
  const script = `import { installProcessPolicy } from ${JSON.stringify(POLICY)};\ninstallProcessPolicy();\n${body}`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

describe('what stops a process', () => {
  it.each([
    ['an uncaught exception', "setTimeout(() => { throw new Error('a bug'); }, 0);"],
    ['an unhandled rejection', "void Promise.reject(new Error('a bug'));"],
  ])('%s is logged at fatal, and the process exits with EXIT_UNHANDLED', async (_, body) => {
    const { code, stderr } = await run(body);
    expect(code).toBe(EXIT_UNHANDLED);
    const fatal = stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; msg: string; err?: { message?: string } })
      .find((line) => line.level === 60);
    expect(fatal).toMatchObject({
      msg: expect.stringContaining('unhandled error') as unknown,
      err: { message: 'a bug' },
    });
  });
});
