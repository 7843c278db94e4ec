import { readSecretFile } from '@shelfsync/edge';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runClusterDemo } from './demo-cluster.js';
import {
  QUIET,
  demoSecrets,
  seedCatalog,
  startOwned,
  startTraffic,
  storeLines,
  targetsOf,
  type DemoOptions,
} from './demo-common.js';
import { DemoLifecycle } from './demo-lifecycle.js';
import { startHubProcess, startStoreProcess } from './processes.js';

export type { DemoOptions } from './demo-common.js';

/**
 * The demo: a hub and three stores as separate processes on the embedded
 * storage, a seeded catalog, and a light seeded stream of sales, receipts and
 * returns at the stores' tills and online orders at the hub. Ctrl-C (or the
 * end of `--duration`) prints a summary and stops everything. `--cluster` runs
 * three hub nodes on PostgreSQL instead (demo-cluster.ts).
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  if (options.cluster) return runClusterDemo(options);
  const secrets = demoSecrets(options.dataDir);
  const lifecycle = new DemoLifecycle();
  try {
    mkdirSync(options.dataDir, { recursive: true });
    const hub = await startHubProcess(
      {
        port: options.port,
        dataDir: join(options.dataDir, 'hub'),
        secretFile: secrets.hubSecretFile,
        // Each store keeps 3 units of every SKU for pickup orders, so a till that runs dry is topped up from them.
        flags: ['--escrow-online-floor', '3'],
      },
      { env: QUIET },
    );
    lifecycle.own([hub]);
    const stores = await startOwned(lifecycle, (id, i) =>
      startStoreProcess(
        {
          id,
          hubUrl: hub.url,
          port: options.port + 1 + i,
          dataDir: join(options.dataDir, id),
          tokenFile: secrets.tokenFile(id),
        },
        { env: QUIET },
      ),
    );
    await seedCatalog(stores, options.seed);
    process.stdout.write(
      [
        '',
        'shelfsync demo is running (Ctrl-C to stop)',
        `  dashboard  ${hub.url}/   (tester controls take the API token in ${join(options.dataDir, 'hub', 'api-token')})`,
        ...storeLines(stores),
        `  hub        ${hub.url}   e.g. ${hub.url}/v1/skus/MUG-BLUE   ${hub.url}/v1/stores`,
        ...storeLines(stores, true),
        '',
        'Try a sale yourself:',
        `  curl -X POST ${stores[0]?.url ?? ''}/v1/sales -H 'content-type: application/json' -d '{"sku":"MUG-BLUE","quantity":1}'`,
        '',
      ].join('\n'),
    );
    const apiToken = readSecretFile(join(options.dataDir, 'hub', 'api-token'), 'the hub API token').split('\n')[0];
    startTraffic(lifecycle, { hubUrls: [hub.url], apiToken: apiToken ?? '', stores: targetsOf(stores) }, options);
  } catch (error) {
    await lifecycle.finish();
    throw error;
  }
  await lifecycle.runFor(options.duration);
}
