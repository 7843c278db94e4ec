#!/usr/bin/env node
// Runs the pinned pnpm through npx, so a machine with only Node and npm can
// install and test the workspace. The pin lives here rather than in
// package.json#packageManager: pnpm 12 would then try to record and fetch a
// platform build of itself, which this setup does not need.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PNPM_VERSION = '12.21.0';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const result = spawnSync(npx, ['-y', `pnpm@${PNPM_VERSION}`, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, npm_config_update_notifier: 'false' },
});
if (result.error) {
  console.error(result.error.message);
  process.exit(1);
}
process.exit(result.status ?? 1);
