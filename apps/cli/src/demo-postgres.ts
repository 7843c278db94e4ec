import { findPostgresBinDir, postgresBinDirCandidates } from '@shelfsync/storage-pg/testing';

/** Printed, with exit code 1 and nothing started, when PostgreSQL is not installed. */
export const INSTALL_HINT = `shelfsync demo --cluster needs PostgreSQL installed: it starts a throwaway server of its own
(initdb into a temporary directory, a free loopback port, removed when the demo stops).

  Debian/Ubuntu:  sudo apt-get install postgresql
  elsewhere:      the PostgreSQL server package, so that initdb and postgres are
                  under \`pg_config --bindir\`, /usr/lib/postgresql/*/bin or on PATH

Run as root, the demo runs initdb and the server as the \`postgres\` system user,
which Debian's package creates. \`npm run demo\` without --cluster needs no database.`;

/** How to install PostgreSQL when initdb is not among `candidates`; null when it is. */
export function missingPostgres(candidates: readonly string[] = postgresBinDirCandidates()): string | null {
  try {
    findPostgresBinDir(candidates);
    return null;
  } catch {
    return INSTALL_HINT;
  }
}
