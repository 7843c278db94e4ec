import { startPostgresServer, type PostgresServer } from '@shelfsync/storage-pg/testing';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './args.js';
import {
  describeCluster,
  keepClusterView,
  portNames,
  readClusterView,
  settled,
  waitForView,
  type HubNodes,
} from './demo-cluster-view.js';
import {
  CATALOG,
  QUIET,
  STORES,
  demoSecrets,
  seedCatalog,
  startOwned,
  startTraffic,
  storeLines,
  targetsOf,
  type DemoOptions,
} from './demo-common.js';
import { runFailoverDrill } from './demo-failover.js';
import { INSTALL_HINT, missingPostgres } from './demo-postgres.js';
import { DemoLifecycle, stopWithin } from './demo-lifecycle.js';
import { startHubProcess, startStoreProcess, writeSecretFile } from './processes.js';

const NODE_NAMES = ['a', 'b', 'c'] as const;

/**
 * The cluster demo: a throwaway PostgreSQL server, three hub nodes on it
 * (`--database`), the three stores each given all three nodes in a different
 * order (so their sessions spread), and the demo's traffic over every node.
 * Its files live in `<data>/cluster`, emptied at start: the database they
 * matched is gone.
 */
export async function runClusterDemo(options: DemoOptions): Promise<void> {
  if (options.port + 5 > 65_535) throw new UsageError('--port: at most 65530 with --cluster (it takes six ports)');
  if (!postgresInstalled()) return;
  const lifecycle = new DemoLifecycle();
  const nodes: HubNodes = new Map();
  let drill: NodeJS.Timeout | undefined;
  // A node the drill restarts while the demo stops must not outlive it.
  let stopping = false;
  const starting = new Set<Promise<unknown>>();
  try {
    const server = await startPostgres();
    if (server === null) return;
    lifecycle.onStop(() => server.stop());
    lifecycle.onStop(async () => {
      stopping = true;
      clearTimeout(drill);
      await Promise.allSettled([...starting]);
      await Promise.all([...nodes.values()].map((node) => stopWithin(node, 10_000)));
    });
    const dir = join(options.dataDir, 'cluster');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const secrets = demoSecrets(dir);
    const apiToken = randomBytes(32).toString('hex');
    const apiTokenFile = writeSecretFile(join(dir, 'secrets', 'api-token'), apiToken);
    const startNode = async (name: string): Promise<void> => {
      if (stopping) return;
      const i = NODE_NAMES.indexOf(name as (typeof NODE_NAMES)[number]);
      const start = startHubProcess(
        {
          port: options.port + i,
          dataDir: join(dir, `hub-${name}`),
          secretFile: secrets.hubSecretFile,
          apiTokenFile,
          flags: ['--database', server.url, '--escrow-online-floor', '3'],
        },
        { env: QUIET },
      );
      starting.add(start);
      try {
        nodes.set(name, await start);
      } finally {
        starting.delete(start);
      }
    };
    // One at a time: the first applies the schema's migrations.
    for (const name of NODE_NAMES) await startNode(name);
    // The stores come once every node holds a share of the shards, so the first writes land on all three.
    await waitForView(nodes, 30_000, (view) => settled(view, 3, 3));

    const hubList = (i: number): string =>
      NODE_NAMES.map((_, k) => `ws://127.0.0.1:${options.port + ((i + k) % 3)}`).join(',');
    const stores = await startOwned(lifecycle, (id, i) =>
      startStoreProcess(
        {
          id,
          hubUrl: hubList(i),
          port: options.port + 3 + i,
          dataDir: join(dir, id),
          tokenFile: secrets.tokenFile(id),
        },
        { env: QUIET },
      ),
    );
    await seedCatalog(stores, options.seed);
    // The stores' sessions show in the view once each has connected.
    await waitForView(nodes, 15_000, (view) => (view?.nodes ?? []).reduce((sum, n) => sum + n.stores, 0) === 3);
    const ports = portNames(nodes);
    process.stdout.write(
      [
        '',
        'shelfsync cluster demo is running (Ctrl-C to stop)',
        `  PostgreSQL ${server.url}   (throwaway: removed when the demo stops)`,
        ...[...nodes].map(([name, node]) => `  dashboard  ${node.url}/   hub node ${name}`),
        `  (tester controls take the API token in ${apiTokenFile})`,
        ...storeLines(stores),
        ...stores.map((s, i) => `  ${(STORES[i] ?? '').padEnd(10)} ${s.url}   --hub ${hubList(i)}`),
        `  cluster    ${nodes.get('a')?.url ?? ''}/v1/cluster`,
        ...describeCluster(await readClusterView(nodes), ports),
        '',
      ].join('\n'),
    );

    const failover: string[] = [];
    const view = keepClusterView(nodes);
    lifecycle.onStop(() => Promise.resolve(view.stop()));
    const extra = async (): Promise<string[]> => [...(await view.describe()), ...failover];
    startTraffic(
      lifecycle,
      { hubUrls: [...nodes.values()].map((n) => n.url), apiToken, stores: targetsOf(stores) },
      options,
      extra,
    );
    if (options.killNodeAt !== undefined) {
      drill = setTimeout(() => {
        const drillTargets = {
          nodes,
          victim: 'b',
          catalog: CATALOG,
          apiToken,
          storeId: STORES[0] ?? 'north',
          stopping: () => stopping,
          kill: async (name: string) => {
            const node = nodes.get(name);
            nodes.delete(name);
            if (node === undefined || node.child.exitCode !== null) return;
            const exited = new Promise((resolve) => node.child.once('exit', resolve));
            node.child.kill('SIGKILL');
            await exited;
          },
          restart: startNode,
        };
        void runFailoverDrill(drillTargets, (line) => process.stdout.write(`${line}\n`)).then(
          (lines) => failover.push(...lines),
          (error: unknown) => failover.push(`  failover drill failed: ${String(error)}`),
        );
      }, options.killNodeAt * 1000);
    }
  } catch (error) {
    await lifecycle.finish();
    throw error;
  }
  await lifecycle.runFor(options.duration);
}

/** Whether initdb is found; says how to install PostgreSQL (exit code 1) when not. */
function postgresInstalled(): boolean {
  const missing = missingPostgres();
  if (missing === null) return true;
  process.stderr.write(`${missing}\n`);
  process.exitCode = 1;
  return false;
}

/** The throwaway server; null (after the install hint) when root has no `postgres` user to run it as. */
async function startPostgres(): Promise<PostgresServer | null> {
  try {
    return await startPostgresServer({ maxConnections: 100 });
  } catch (error) {
    if (!(error instanceof Error) || !error.message.includes('no system user')) throw error;
    process.stderr.write(`${error.message}\n\n${INSTALL_HINT}\n`);
    process.exitCode = 1;
    return null;
  }
}
