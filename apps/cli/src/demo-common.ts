import { readSecretFile } from '@shelfsync/edge';
import { signStoreToken } from '@shelfsync/hub';
import { StoreIdSchema, seededRandom, type StoreId } from '@shelfsync/protocol';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DemoLifecycle } from './demo-lifecycle.js';
import { startStatusReports, summaryLines } from './demo-summary.js';
import { startDemoTraffic, type DemoTargets, type DemoTraffic } from './demo-traffic.js';
import { writeSecretFile, type ChildCommand } from './processes.js';

export interface DemoOptions {
  readonly port: number;
  readonly dataDir: string;
  readonly seed: number;
  readonly rate: number;
  /** Seconds until the demo stops and prints its summary; 0: until Ctrl-C. */
  readonly duration: number;
  readonly cluster: boolean;
  /** With `cluster`: when to kill -9 one hub node (and restart it). */
  readonly killNodeAt?: number | undefined;
}

export const STORES = ['north', 'central', 'south'].map((id) => StoreIdSchema.parse(id));
export const CATALOG = ['MUG-BLUE', 'MUG-RED', 'TEE-S', 'TEE-M', 'TEE-L', 'LAMP-01', 'BOOK-042', 'SOCKS-PAIR'];
/** Child processes log warnings and errors only, unless asked otherwise. */
export const QUIET = { SHELFSYNC_LOG_LEVEL: process.env.SHELFSYNC_LOG_LEVEL ?? 'warn' };

/** Starts the three stores, each owned by `lifecycle` as soon as it runs (a sibling's failure still stops it). */
export async function startOwned(
  lifecycle: DemoLifecycle,
  start: (id: StoreId, index: number) => Promise<ChildCommand>,
): Promise<ChildCommand[]> {
  const started: ChildCommand[] = [];
  lifecycle.own(started);
  const results = await Promise.allSettled(
    STORES.map(async (id, i) => {
      const store = await start(id, i);
      started[i] = store;
      return store;
    }),
  );
  const failed = results.find((r) => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return started;
}

export const targetsOf = (stores: readonly ChildCommand[]): { id: string; url: string }[] =>
  stores.map((s, i) => ({ id: STORES[i] ?? '', url: s.url }));

/** The stores' lines of the banner: their consoles, or their API with examples. */
export function storeLines(stores: readonly ChildCommand[], api = false): string[] {
  return stores.map((s, i) =>
    api
      ? `  ${(STORES[i] ?? '').padEnd(10)} ${s.url}   e.g. ${s.url}/v1/skus/MUG-BLUE   ${s.url}/v1/status`
      : `  console    ${s.url}/   store ${STORES[i] ?? ''}`,
  );
}

/** Seeds the catalog once: the idempotency keys make a rerun on the same data a no-op. */
export async function seedCatalog(stores: readonly ChildCommand[], seed: number): Promise<void> {
  const random = seededRandom(seed);
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
}

/** Starts the traffic and its status lines; the summary (and `extra` lines) print when the demo ends. */
export function startTraffic(
  lifecycle: DemoLifecycle,
  targets: Omit<DemoTargets, 'catalog'>,
  options: DemoOptions,
  extra: () => Promise<string[]> = () => Promise.resolve([]),
): DemoTraffic {
  const all = { ...targets, catalog: CATALOG };
  const startedAt = Date.now();
  const traffic = startDemoTraffic(all, options.seed, options.rate);
  const reports = startStatusReports(all, traffic.tally);
  lifecycle.beforeStop(async () => {
    reports.stop();
    await traffic.stop();
    const lines = await summaryLines(all, traffic.tally, (Date.now() - startedAt) / 1000);
    process.stdout.write(`\n${[...lines, ...(await extra())].join('\n')}\n`);
  });
  return traffic;
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

async function post(base: string, path: string, body: unknown, key: string): Promise<number> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}
