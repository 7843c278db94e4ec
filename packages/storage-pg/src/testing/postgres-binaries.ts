import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Set to 1 to skip the tests that need a PostgreSQL server, on purpose. */
export const SKIP_PG_TESTS_VARIABLE = 'SHELFSYNC_SKIP_PG_TESTS';

/** Whether the PostgreSQL tests are to be skipped (`SHELFSYNC_SKIP_PG_TESTS=1`). */
export const skipPgTests = (): boolean => process.env[SKIP_PG_TESTS_VARIABLE] === '1';

/** Where to look, in order: `pg_config --bindir`, Debian's directories (newest first), PATH. */
export function postgresBinDirCandidates(): string[] {
  return [pgConfigBinDir(), ...debianBinDirs(), ...pathDirs()].filter((dir) => dir !== undefined);
}

/** The first directory holding both `initdb` and `postgres`. */
export function findPostgresBinDir(candidates: readonly string[] = postgresBinDirCandidates()): string {
  const found = candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres')));
  if (found === undefined) {
    throw new Error(
      'PostgreSQL is not installed: no initdb and postgres under `pg_config --bindir`, /usr/lib/postgresql/*/bin or PATH. ' +
        `Install it (apt-get install -y postgresql; .ci/run does), or set ${SKIP_PG_TESTS_VARIABLE}=1 to skip the PostgreSQL tests on purpose`,
    );
  }
  return found;
}

function pgConfigBinDir(): string | undefined {
  try {
    return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined; // no pg_config (Debian ships it with libpq-dev): look elsewhere
  }
}

/** Debian's layout, one directory per major version; the newest first. */
function debianBinDirs(): string[] {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(b) - Number(a))
    .map((version) => join(root, version, 'bin'));
}

function pathDirs(): string[] {
  return (process.env['PATH'] ?? '').split(delimiter).filter((dir) => dir !== '');
}

/** A system user's ids, read from /etc/passwd (no getpwnam in Node). */
export function systemUser(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${name}:`));
  const fields = line?.split(':') ?? [];
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new Error(
      `PostgreSQL refuses to run as root, and there is no system user "${name}" to run it as (Debian's postgresql package creates it)`,
    );
  }
  return { uid, gid };
}
