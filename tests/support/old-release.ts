import { startCommand, type ChildCommand, type ProcessCluster } from '@shelfsync/cli';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * An earlier release's code, checked out from this repository's history into a
 * temporary directory and installed there, to start its store next to today's
 * hub and stores (a rolling upgrade). `git archive` rather than a worktree: it
 * leaves nothing registered in the clone. The install links from the pnpm store
 * the workspace's own install filled (same lockfile), so it takes seconds.
 */

const REPO_ROOT = realpathSync(join(import.meta.dirname, '..', '..'));

/** Output of a failed command, trimmed for an error message. */
const tail = (text: string): string => text.trim().split('\n').slice(-15).join('\n');

/**
 * Whether `commit` is in this checkout's history: undefined when it is, else why
 * not (a source archive has no .git; a shallow clone may lack the commit).
 */
export function missingHistory(commit: string): string | undefined {
  const top = spawnSync('git', ['rev-parse', '--show-toplevel'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (top.error !== undefined)
    return `git is not available (${top.error.message}): no history to take release ${commit} from`;
  // A source archive unpacked inside some other repository must not read that one's history.
  if (top.status !== 0 || realpathSync(top.stdout.trim()) !== REPO_ROOT) {
    return `${REPO_ROOT} is not a git checkout (a source archive?): no history to take release ${commit} from`;
  }
  const found = spawnSync('git', ['cat-file', '-e', `${commit}^{commit}`], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (found.status !== 0) {
    return `commit ${commit} is not in this clone's history (shallow? \`git fetch --unshallow\` brings it)`;
  }
  return undefined;
}

/**
 * Package-manager variables a `pnpm exec` or `npm test` parent sets for its own
 * project (its prefix, its package): the old tree's install must not see them.
 * Configuration a machine may need (cache, registry, proxy, store) passes.
 */
function installEnv(): NodeJS.ProcessEnv {
  const keep =
    /^npm_config_(cache|registry|userconfig|globalconfig|cafile|proxy|https_proxy|noproxy|strict_ssl|store_dir)$/i;
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(npm|pnpm)_/i.test(name) || keep.test(name)),
  );
}

export class OldRelease {
  private constructor(
    readonly commit: string,
    /** The checked-out tree, with its own node_modules. */
    readonly dir: string,
    /** How long the checkout and the install took. */
    readonly setupMs: number,
  ) {}

  /**
   * Checks `commit` out into a fresh temporary directory and installs it from its
   * lockfile. Throws, saying which step failed and its output, when it cannot.
   */
  static async prepare(commit: string): Promise<OldRelease> {
    const started = Date.now();
    const dir = mkdtempSync(join(tmpdir(), `shelfsync-release-${commit}-`));
    try {
      const tar = join(dir, 'release.tar');
      const tree = join(dir, 'tree');
      await run('git', ['archive', '--format=tar', '--prefix=tree/', '-o', tar, commit], REPO_ROOT, process.env);
      await run('tar', ['-xf', tar, '-C', dir], dir, process.env);
      rmSync(tar);
      await run(
        process.execPath,
        ['scripts/pnpm.mjs', 'install', '--frozen-lockfile', '--prefer-offline', '--reporter=append-only'],
        tree,
        installEnv(),
      );
      return new OldRelease(commit, dir, Date.now() - started);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`could not prepare release ${commit} to run its store: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  private get tree(): string {
    return join(this.dir, 'tree');
  }

  /**
   * Starts this release's store `id` as a member of `cluster`: on the cluster's
   * data directory and token file for `id`, connected to its hub, stopped with the
   * rest by `cluster.stop()`. The CLI's flags are checked against the release's own.
   */
  async startStore(cluster: ProcessCluster, id: string, flags: readonly string[] = []): Promise<ChildCommand> {
    const store = await startCli(this.tree, [
      'store',
      ...['--id', id, '--hub', `ws://127.0.0.1:${cluster.hubPort}`, '--port', '0'],
      ...['--data', cluster.dataDir(id), '--token-file', cluster.tokenFile(id)],
      ...flags,
    ]);
    cluster.stores.set(id, store);
    return store;
  }

  /** Removes the checked-out tree. */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const execFileAsync = promisify(execFile);

/** Runs a command to its end; throws with its exit and the tail of its output when it fails. */
async function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  try {
    await execFileAsync(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    // An exit status, or a spawn error's code (ENOENT: no such command).
    const failed = error as Error & { code?: number | string; stdout?: string; stderr?: string };
    const output = tail(`${failed.stderr ?? ''}${failed.stdout ?? ''}`);
    const why = failed.code === undefined ? failed.message : `exit ${failed.code}`;
    throw new Error(`${command} ${args.join(' ')} failed (${why})${output === '' ? '' : `:\n${output}`}`, {
      cause: error,
    });
  }
}

/** `shelfsync <args>` of the tree at `root`, under that tree's own tsx, resolved once it prints its "listening on" line. */
function startCli(root: string, args: readonly string[]): Promise<ChildCommand> {
  return startCommand(args, {
    entry: join(root, 'apps', 'cli', 'src', 'main.ts'),
    nodeArgs: ['--import', 'tsx'],
    cwd: root,
    env: { SHELFSYNC_LOG_LEVEL: 'warn' },
  });
}
