import { ProcessCluster } from '@shelfsync/cli';
import { locationView, type FinalSku } from '../../packages/checker/src/index.js';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What the release fixtures (tests/fixtures/release-*) and the upgrade test
 * share: how the cluster is laid out and started, how it is waited on, and what
 * of it is read and compared. No vitest here: the generator runs under plain tsx.
 */

export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

export const STORE_IDS = ['store-a', 'store-b', 'store-c'] as const;
export type FixtureStoreId = (typeof STORE_IDS)[number];
/** The store that sells under the manager override. */
export const OVERRIDE_STORE: FixtureStoreId = 'store-c';
export const SKUS = ['DESK-1', 'LAMP-1', 'MUG-1', 'TEA-1'] as const;

// Test secrets, the same at every start: the hub keeps the key id of its --secret
// in its data directory, and a store token signed with another secret would need
// the key set changed first.
const SECRET = 'release-fixture-secret-0123456789';
export const API_TOKEN = 'release-fixture-api-token-0123456789';
export const MANAGER_TOKEN = 'release-fixture-manager-token-0123';
const OVERRIDE_CAP = '3';

export interface FixtureClusterOptions {
  /** Holds the data directories (`hub`, `store-a`...) and the secrets (`secrets/`, written fresh). */
  readonly dir: string;
  readonly reservationTtlMs: number;
}

/**
 * A hub and the stores on `dir`, with the flags every start of the fixture uses
 * (the escrow allocator on, as by default; the manager override on at one store).
 * Ports are free ones, new at each start: nothing in a data directory names a port.
 */
export function fixtureCluster(options: FixtureClusterOptions): ProcessCluster {
  return new ProcessCluster({
    dir: options.dir,
    secret: SECRET,
    apiToken: API_TOKEN,
    start: { nodeArgs: ['--import', 'tsx'], env: { SHELFSYNC_LOG_LEVEL: 'warn' } },
    hubFlags: [
      '--escrow',
      'on',
      '--override-cap',
      OVERRIDE_CAP,
      '--reservation-ttl-ms',
      String(options.reservationTtlMs),
      // Idle documents leave memory and are loaded again from disk within a run.
      '--evict-idle-ms',
      '1000',
      // Waiting for the cluster to settle reads the storefront many times a second.
      '--rate-limit',
      '0',
    ],
  });
}

/** Starts the hub, then every store (the override store with its cap and manager token). */
export async function startAll(cluster: ProcessCluster): Promise<void> {
  await cluster.startHub();
  await Promise.all(STORE_IDS.map((id) => startStore(cluster, id)));
}

export async function startStore(cluster: ProcessCluster, id: FixtureStoreId): Promise<void> {
  const flags =
    id === OVERRIDE_STORE
      ? ['--override-cap', OVERRIDE_CAP, '--manager-token-file', cluster.secretFileOf('manager-tokens', MANAGER_TOKEN)]
      : [];
  await cluster.startStore(id, { flags });
}

/** The data directories of a fixture, as copied from and to it. */
export const DATA_DIRS = ['hub', ...STORE_IDS] as const;

/** A fresh temporary directory holding a copy of the fixture's data directories. */
export function copyFixture(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `shelfsync-${name}-`));
  for (const data of DATA_DIRS) cpSync(join(FIXTURES_DIR, name, data), join(dir, data), { recursive: true });
  return dir;
}

/** Replaces the fixture's data directories with those under `dir`. */
export function saveFixture(dir: string, name: string): void {
  for (const data of DATA_DIRS) {
    const target = join(FIXTURES_DIR, name, data);
    rmSync(target, { recursive: true, force: true });
    cpSync(join(dir, data), target, { recursive: true });
  }
}

/** The files under `dir`, relative, with their sizes. */
export function listFiles(dir: string, prefix = ''): { path: string; bytes: number }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? listFiles(join(dir, entry.name), `${prefix}${entry.name}/`)
      : [{ path: `${prefix}${entry.name}`, bytes: statSync(join(dir, entry.name)).size }],
  );
}

export interface JsonAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

const auth = { authorization: `Bearer ${API_TOKEN}` };

export async function getJson(base: string, path: string, headers: Record<string, string> = {}): Promise<JsonAnswer> {
  const res = await fetch(`${base}${path}`, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export async function postJson(
  base: string,
  path: string,
  body: unknown,
  options: { key?: string; headers?: Record<string, string> } = {},
): Promise<JsonAnswer> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.key === undefined ? {} : { 'idempotency-key': options.key }),
      ...options.headers,
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * A read that must answer 200 (or 404, where `missing` allows): anything else (a
 * refusal, a problem) throws, so it is never taken for what the cluster holds.
 */
async function read(
  base: string,
  path: string,
  options: { headers?: Record<string, string>; missing?: boolean } = {},
): Promise<JsonAnswer> {
  const answer = await getJson(base, path, options.headers);
  if (answer.status === 200 || (options.missing === true && answer.status === 404)) return answer;
  throw new Error(`GET ${base}${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
}

/** A call with the hub's API token (reservations, ledgers, admin). */
export const withApiToken = (headers: Record<string, string> = {}): Record<string, string> => ({
  ...auth,
  ...headers,
});

/** Polls `check` until it returns true; throws with `what` (and the last value seen) after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean | string>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: boolean | string;
  for (;;) {
    try {
      last = await check();
      if (last === true) return;
    } catch (error) {
      last = String(error);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Everything a user would read of the cluster, with what changes on its own (times, change numbers) left out. */
export interface Snapshot {
  /** Per SKU: the hub's storefront read, its per-store reads and its ledger. */
  readonly hub: Record<string, { stock: unknown; stores: Record<string, unknown>; ledger: unknown }>;
  /** The hub's catalog walk: every SKU with its available units. */
  readonly catalog: unknown[];
  /** Per store, per SKU: the store API's stock and its location's ledger accounts (null where the store holds nothing of it). */
  readonly stores: Record<string, Record<string, { stock: unknown; ledger: unknown } | null>>;
  /** Per name: the reservation as the hub answers it. */
  readonly reservations: Record<string, unknown>;
}

/** Drops `keys` from an object read as JSON. */
function without(body: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([key]) => !keys.includes(key)));
}

/** Fields that move with time or with the process, not with the stock. */
const HUB_VOLATILE = ['updatedAt', 'change'];
const STORE_VOLATILE = ['hubConnected', 'lastSyncedAt', 'pendingSync', 'availableAsOf'];
/** A Yjs state vector names client ids and clocks: a schema migration may add writers. */
const LEDGER_VOLATILE = ['stateVector'];

/**
 * What a store's ledger is the authority on: its own location's accounts (rights,
 * and units owed under the override). A store holding only its share (protocol 7)
 * counts the rest from a part of the document; one that moved to 7 from a whole
 * replica still holds the others' entries as they were when it moved.
 */
export function locationLedger(ledger: Record<string, unknown>, location: string): Record<string, unknown> {
  return { sku: ledger.sku, ...locationView(ledger as unknown as FinalSku, location) };
}

/** Reads the whole cluster. `reservations` names the reservations to read (name -> id). */
export async function snapshot(cluster: ProcessCluster, reservations: Record<string, string>): Promise<Snapshot> {
  const hub = cluster.hub?.url ?? '';
  const hubViews: Snapshot['hub'] = {};
  for (const sku of SKUS) {
    const stock = await read(hub, `/v1/skus/${sku}`);
    const stores: Record<string, unknown> = {};
    for (const id of STORE_IDS) {
      const there = await read(hub, `/v1/stores/${id}/skus/${sku}`);
      stores[id] = without(there.body, HUB_VOLATILE);
    }
    const ledger = await read(hub, `/v1/skus/${sku}/ledger`, { headers: withApiToken() });
    hubViews[sku] = {
      stock: without(stock.body, HUB_VOLATILE),
      stores,
      ledger: without(ledger.body, LEDGER_VOLATILE),
    };
  }
  const items = (await read(hub, '/v1/skus?limit=200')).body.items as Record<string, unknown>[];
  const catalog = items.map((item) => without(item, HUB_VOLATILE));
  const storeViews: Snapshot['stores'] = {};
  for (const id of STORE_IDS) {
    const base = cluster.store(id);
    const views: Record<string, { stock: unknown; ledger: unknown } | null> = {};
    for (const sku of SKUS) {
      const stock = await read(base, `/v1/skus/${sku}`, { missing: true });
      if (stock.status === 404) {
        views[sku] = null;
        continue;
      }
      const ledger = await read(base, `/v1/skus/${sku}/ledger`);
      views[sku] = { stock: without(stock.body, STORE_VOLATILE), ledger: locationLedger(ledger.body, id) };
    }
    storeViews[id] = views;
  }
  const reservationViews: Record<string, unknown> = {};
  for (const [name, id] of Object.entries(reservations)) {
    reservationViews[name] = (await read(hub, `/v1/reservations/${id}`, { headers: withApiToken() })).body;
  }
  return { hub: hubViews, catalog, stores: storeViews, reservations: reservationViews };
}

interface LocationRead {
  location: string;
  onShelf: number;
  posRights: number;
}

/**
 * Whether the cluster is at rest: every store connected, caught up, nothing
 * pending, and each store's own figures the same as the hub's for its location.
 * Returns true, or what is not yet so.
 */
export async function atRest(cluster: ProcessCluster): Promise<true | string> {
  const hub = cluster.hub?.url ?? '';
  for (const id of STORE_IDS) {
    const status = (await read(cluster.store(id), '/v1/status')).body as {
      hub: { connected: boolean; caughtUp: boolean };
      pendingSync: number;
      ready: boolean;
    };
    if (!status.hub.connected || !status.hub.caughtUp || status.pendingSync !== 0 || !status.ready) {
      return `${id}: ${JSON.stringify(status)}`;
    }
  }
  for (const sku of SKUS) {
    const stock = (await read(hub, `/v1/skus/${sku}`)).body as { available: number; locations?: LocationRead[] };
    for (const id of STORE_IDS) {
      const local = await read(cluster.store(id), `/v1/skus/${sku}`, { missing: true });
      if (local.status === 404) continue;
      const mine = local.body as { rights: number; onShelf: number; available: number };
      // A store holds every SKU it has heard of; the hub lists only the locations that hold some of it.
      const there = stock.locations?.find((l) => l.location === id) ?? { posRights: 0, onShelf: 0 };
      if (there.posRights !== mine.rights || there.onShelf !== mine.onShelf || stock.available !== mine.available) {
        return `${sku} at ${id}: store ${JSON.stringify(mine)}, hub ${JSON.stringify({ available: stock.available, ...there })}`;
      }
    }
  }
  return true;
}

/**
 * Waits until the cluster is at rest and reads the same twice in a row (a
 * rebalance or a release in flight would change the second read), then returns
 * that read.
 */
export async function settle(
  cluster: ProcessCluster,
  reservations: Record<string, string>,
  timeoutMs = 30_000,
): Promise<Snapshot> {
  let previous = '';
  let settled: Snapshot | null = null;
  await waitUntil(
    'the cluster to settle',
    async () => {
      const rest = await atRest(cluster);
      if (rest !== true) {
        previous = '';
        return rest;
      }
      const read = await snapshot(cluster, reservations);
      const text = JSON.stringify(read);
      if (text !== previous) {
        previous = text;
        return 'changed since the last read';
      }
      settled = read;
      return true;
    },
    timeoutMs,
    200,
  );
  if (settled === null) throw new Error('unreachable: settled without a read');
  return settled;
}

/** One location of the hub's storefront stock read (`GET /v1/stock/:sku`), as the upgrade tests compare it. */
export interface LocationStock {
  location: string;
  onShelf: number;
  posRights: number;
  onlineRights: number;
  reserved: number;
  deficit: number;
}
