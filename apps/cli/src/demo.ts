import { readSecretFile } from '@shelfsync/edge';
import { signStoreToken } from '@shelfsync/hub';
import { StoreIdSchema, seededRandom, type StoreId } from '@shelfsync/protocol';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startDemoTraffic } from './demo-traffic.js';
import { startHubProcess, startStoreProcess, writeSecretFile, type ChildCommand } from './processes.js';
import { onShutdown } from './shutdown.js';

export interface DemoOptions {
  readonly port: number;
  readonly dataDir: string;
  readonly seed: number;
  readonly rate: number;
}

const STORES = ['north', 'central', 'south'].map((id) => StoreIdSchema.parse(id));
const CATALOG = ['MUG-BLUE', 'MUG-RED', 'TEE-S', 'TEE-M', 'TEE-L', 'LAMP-01', 'BOOK-042', 'SOCKS-PAIR'];

/**
 * The demo: a hub and three stores as separate processes on the embedded
 * storage, a seeded catalog, and a light seeded stream of sales, receipts and
 * returns at the stores' tills and online orders at the hub. Ctrl-C stops everything.
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const secrets = demoSecrets(options.dataDir);
  const quiet = { SHELFSYNC_LOG_LEVEL: process.env.SHELFSYNC_LOG_LEVEL ?? 'warn' };
  const children: ChildCommand[] = [];
  const timers: { stop(): void }[] = [];
  onShutdown(async () => {
    for (const timer of timers) timer.stop();
    process.stdout.write('\nstopping the demo...\n');
    await Promise.all(children.map((c) => c.stop()));
  });

  mkdirSync(options.dataDir, { recursive: true });
  const hub = await startHubProcess(
    {
      port: options.port,
      dataDir: join(options.dataDir, 'hub'),
      secretFile: secrets.hubSecretFile,
      // Each store keeps 3 units of every SKU for pickup orders, so a till that runs dry is topped up from them.
      flags: ['--escrow-online-floor', '3'],
    },
    { env: quiet },
  );
  children.push(hub);
  const stores = await Promise.all(
    STORES.map((id, i) =>
      startStoreProcess(
        {
          id,
          hubUrl: hub.url,
          port: options.port + 1 + i,
          dataDir: join(options.dataDir, id),
          tokenFile: secrets.tokenFile(id),
        },
        { env: quiet },
      ),
    ),
  );
  children.push(...stores);

  const random = seededRandom(options.seed);
  // Seed the catalog once: the idempotency keys make a rerun on the same data a no-op.
  for (const [i, store] of stores.entries()) {
    for (const sku of CATALOG) {
      await post(
        store.url,
        '/v1/receipts',
        { sku, quantity: 5 + Math.floor(random() * 20) },
        `seed-${STORES[i] ?? i}-${sku}`,
      );
    }
  }

  process.stdout.write(
    [
      '',
      'shelfsync demo is running (Ctrl-C to stop)',
      `  dashboard  ${hub.url}/   (tester controls take the API token in ${join(options.dataDir, 'hub', 'api-token')})`,
      ...stores.map((s, i) => `  console    ${s.url}/   store ${STORES[i] ?? ''}`),
      `  hub        ${hub.url}   e.g. ${hub.url}/v1/skus/MUG-BLUE   ${hub.url}/v1/stores`,
      ...stores.map(
        (s, i) => `  ${(STORES[i] ?? '').padEnd(10)} ${s.url}   e.g. ${s.url}/v1/skus/MUG-BLUE   ${s.url}/v1/status`,
      ),
      '',
      'Try a sale yourself:',
      `  curl -X POST ${stores[0]?.url ?? ''}/v1/sales -H 'content-type: application/json' -d '{"sku":"MUG-BLUE","quantity":1}'`,
      '',
    ].join('\n'),
  );

  const traffic = startDemoTraffic(
    {
      hubUrl: hub.url,
      apiToken: readSecretFile(join(options.dataDir, 'hub', 'api-token'), 'the hub API token').split('\n')[0] ?? '',
      stores: stores.map((s, i) => ({ id: STORES[i] ?? '', url: s.url })),
      catalog: CATALOG,
    },
    options.seed,
    options.rate,
  );
  timers.push({ stop: () => traffic.stop() });
  // Keep running until a signal arrives.
  await new Promise<never>(() => {});
}

async function post(base: string, path: string, body: unknown, key: string): Promise<number> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

/**
 * The demo's secrets, as files only its user can read under `<data>/secrets`:
 * the hub's signing secret (kept across runs, like the data) and a fresh token
 * per store. No secret goes on a command line or into an environment.
 */
export function demoSecrets(dataDir: string): { hubSecretFile: string; tokenFile: (id: StoreId) => string } {
  const dir = join(dataDir, 'secrets');
  const hubSecretFile = join(dir, 'hub-secret');
  if (!existsSync(hubSecretFile)) writeSecretFile(hubSecretFile, randomBytes(24).toString('hex'));
  const secret = readSecretFile(hubSecretFile, 'demo secret');
  return {
    hubSecretFile,
    tokenFile: (id) => writeSecretFile(join(dir, `${id}.token`), signStoreToken(id, secret)),
  };
}
