import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const inGit = existsSync(join(root, '.git'));
const work = mkdtempSync(join(tmpdir(), 'shelfsync-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** File names in a zip, read from its central directory. */
function zipEntries(zip: Buffer): string[] {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('bad central directory');
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    names.push(zip.toString('utf8', at + 46, at + 46 + nameLength));
    at += 46 + nameLength + extraLength + commentLength;
  }
  return names;
}

describe.skipIf(!inGit)('pack:zip', () => {
  it('packs the committed project with its deliverables and without node_modules', () => {
    const out = join(work, 'shelfsync.zip');
    execFileSync('node', [join(root, 'scripts/pack.mjs'), '--out', out], { cwd: root, stdio: 'pipe' });
    const names = zipEntries(readFileSync(out));
    for (const required of [
      'README.md',
      'run.md',
      'prompts.md',
      'docs/project-plan.md',
      'docs/crdt.md',
      'package.json',
      'pnpm-lock.yaml',
    ]) {
      expect(names).toContain(`shelfsync/${required}`);
    }
    expect(names.filter((n) => n.includes('node_modules/'))).toEqual([]);
  });
});
