import { HubConfigSchema, MIN_SECRET_LENGTH, signStoreToken, startHub } from '@shelfsync/hub';
import { StoreIdSchema } from '@shelfsync/protocol';
import { StoreConfigSchema, checkStoreConfig, startStore } from '@shelfsync/store';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { UsageError, describeFlags, parseFlags, type FlagSpec } from './args.js';
import { runDemo } from './demo.js';
import { startProxy } from './proxy-command.js';
import { installProcessPolicy } from './process-policy.js';
import { onShutdown } from './shutdown.js';
import { SCENARIOS } from './sim/scenarios.js';
import { SimInputError, SimOptionsSchema, runSimCommand } from './sim/sim-command.js';

const hubFlags = {
  port: { flag: 'port', env: 'SHELFSYNC_PORT', description: 'port to listen on (0: any free port)' },
  host: { flag: 'host', env: 'SHELFSYNC_HOST', description: 'address to bind (default 127.0.0.1)' },
  dataDir: { flag: 'data', env: 'SHELFSYNC_DATA', description: 'data directory' },
  secret: {
    flag: 'secret',
    env: 'SHELFSYNC_SECRET',
    description: `token signing secret, ${MIN_SECRET_LENGTH}+ chars (default: kept in <data>/hub-secret)`,
  },
  apiToken: {
    flag: 'api-token',
    env: 'SHELFSYNC_API_TOKEN',
    description: `bearer token for reservations and admin calls, ${MIN_SECRET_LENGTH}+ chars (default: kept in <data>/api-token)`,
  },
  reservationTtlMs: {
    flag: 'reservation-ttl-ms',
    env: 'SHELFSYNC_RESERVATION_TTL_MS',
    description: 'how long an unconfirmed online reservation holds its units (default 900000, 15 min)',
  },
  rateLimit: {
    flag: 'rate-limit',
    env: 'SHELFSYNC_RATE_LIMIT',
    description: 'public reads per second per client, sustained; 0: no limit (default 100)',
  },
  rateLimitBurst: {
    flag: 'rate-limit-burst',
    env: 'SHELFSYNC_RATE_LIMIT_BURST',
    description: 'public reads a client may make at once above the rate (default 200)',
  },
  corsOrigins: {
    flag: 'cors-origins',
    env: 'SHELFSYNC_CORS_ORIGINS',
    description: 'storefront origins allowed to call the API from a browser, comma-separated',
  },
  evictIdleMs: {
    flag: 'evict-idle-ms',
    env: 'SHELFSYNC_EVICT_IDLE_MS',
    description: 'drop a SKU document from memory after this long unused, once stored (default 60000)',
  },
  maxResidentDocs: {
    flag: 'max-resident-docs',
    env: 'SHELFSYNC_MAX_RESIDENT_DOCS',
    description: 'SKU documents kept in memory before idle ones leave early (default 10000)',
  },
  escrow: {
    flag: 'escrow',
    env: 'SHELFSYNC_ESCROW',
    description: 'on: grant and reclaim POS rights by demand; off: rights stay where stores put them (default on)',
  },
  escrowHorizonMs: {
    flag: 'escrow-horizon-ms',
    env: 'SHELFSYNC_ESCROW_HORIZON_MS',
    description: 'a POS quota covers its sales over this long cut off (default 14400000, 4 h)',
  },
  escrowHalfLifeMs: {
    flag: 'escrow-half-life-ms',
    env: 'SHELFSYNC_ESCROW_HALF_LIFE_MS',
    description: 'half-life of the sales-velocity estimate (default 3600000, 1 h)',
  },
  escrowMinQuota: {
    flag: 'escrow-min-quota',
    env: 'SHELFSYNC_ESCROW_MIN_QUOTA',
    description: 'units a POS holds whatever its sales (default 2)',
  },
  escrowRebalanceMs: {
    flag: 'escrow-rebalance-ms',
    env: 'SHELFSYNC_ESCROW_REBALANCE_MS',
    description: 'how often every followed SKU and store is rebalanced (default 60000)',
  },
  overrideCap: {
    flag: 'override-cap',
    env: 'SHELFSYNC_OVERRIDE_CAP',
    description:
      'manager override: the largest deficit per store and SKU the hub accepts from store overrides (default 0: none)',
  },
  maxConnectionsPerAddress: {
    flag: 'max-connections-per-address',
    env: 'SHELFSYNC_MAX_CONNECTIONS_PER_ADDRESS',
    description:
      "connections one client address may hold before authenticating; stores' sync sessions do not count (default 512)",
  },
  maxEventStreamsPerAddress: {
    flag: 'max-event-streams-per-address',
    env: 'SHELFSYNC_MAX_EVENT_STREAMS_PER_ADDRESS',
    description: 'open /v1/events streams per client address (default 20)',
  },
  maxEventStreams: {
    flag: 'max-event-streams',
    env: 'SHELFSYNC_MAX_EVENT_STREAMS',
    description: 'open /v1/events streams in total (default 2000)',
  },
  maxYjsReadersPerAddress: {
    flag: 'max-yjs-readers-per-address',
    env: 'SHELFSYNC_MAX_YJS_READERS_PER_ADDRESS',
    description: 'open /yjs/<sku> readers per client address (default 32)',
  },
  maxYjsReaders: {
    flag: 'max-yjs-readers',
    env: 'SHELFSYNC_MAX_YJS_READERS',
    description: 'open /yjs/<sku> readers in total (default 256)',
  },
  faultProxies: {
    flag: 'fault-proxies',
    env: 'SHELFSYNC_FAULT_PROXIES',
    description:
      'fault proxies in front of store links, for testers: north=http://127.0.0.1:9181,... (the control API of each `shelfsync proxy`)',
  },
} satisfies Record<string, FlagSpec>;

const storeFlags = {
  id: { flag: 'id', env: 'SHELFSYNC_STORE_ID', description: 'store id' },
  hubUrl: { flag: 'hub', env: 'SHELFSYNC_HUB', description: 'hub address, e.g. ws://127.0.0.1:8080' },
  port: { flag: 'port', env: 'SHELFSYNC_PORT', description: 'port of the local POS API (0: any free port)' },
  host: { flag: 'host', env: 'SHELFSYNC_HOST', description: 'address to bind (default 127.0.0.1)' },
  dataDir: { flag: 'data', env: 'SHELFSYNC_DATA', description: 'data directory' },
  token: { flag: 'token', env: 'SHELFSYNC_TOKEN', description: 'store token from `shelfsync token`' },
  firstSyncWaitMs: {
    flag: 'first-sync-wait-ms',
    env: 'SHELFSYNC_FIRST_SYNC_WAIT_MS',
    description: 'a new replica holds writes this long for its first sync before refusing them (default 10000)',
  },
  topUpWaitMs: {
    flag: 'top-up-wait-ms',
    env: 'SHELFSYNC_TOP_UP_WAIT_MS',
    description: 'a sale beyond local rights waits this long for a top-up while the hub is reachable (default 250)',
  },
  overrideCap: {
    flag: 'override-cap',
    env: 'SHELFSYNC_OVERRIDE_CAP',
    description: 'manager override: units per SKU a sale with "override": true may sell beyond rights (default 0: off)',
  },
  managerToken: {
    flag: 'manager-token',
    env: 'SHELFSYNC_MANAGER_TOKEN',
    description: 'what an override sale carries in X-Manager-Token, 16+ chars (default: kept in <data>/manager-token)',
  },
  idempotencyHours: {
    flag: 'idempotency-hours',
    env: 'SHELFSYNC_IDEMPOTENCY_HOURS',
    description: 'how long a retry with the same Idempotency-Key gets the first answer (default 24)',
  },
} satisfies Record<string, FlagSpec>;

const tokenFlags = {
  store: { flag: 'store', env: 'SHELFSYNC_STORE_ID', description: 'store id the token is bound to' },
  secret: { flag: 'secret', env: 'SHELFSYNC_SECRET', description: "the hub's secret" },
} satisfies Record<string, FlagSpec>;

const proxyFlags = {
  port: { flag: 'port', env: 'SHELFSYNC_PORT', description: 'port stores connect to (0: any free port)' },
  target: { flag: 'target', env: 'SHELFSYNC_TARGET_PORT', description: 'port of the hub on 127.0.0.1' },
  controlPort: {
    flag: 'control-port',
    env: 'SHELFSYNC_CONTROL_PORT',
    description: 'port of the control API: /status, /partition, /hold, /restore, /degrade, /flap (0: any)',
  },
} satisfies Record<string, FlagSpec>;

const demoFlags = {
  port: { flag: 'port', env: 'SHELFSYNC_PORT', description: 'hub port (default 8080; stores take the next three)' },
  dataDir: { flag: 'data', env: 'SHELFSYNC_DATA', description: 'data directory (default .data/demo)' },
  seed: { flag: 'seed', description: 'seed of the catalog and the traffic (default 1)' },
  rate: { flag: 'rate', description: 'operations per second across all stores (default 4)' },
} satisfies Record<string, FlagSpec>;

const simFlags = {
  scenario: {
    flag: 'scenario',
    description: `fault schedule: ${SCENARIOS.join(', ')}, or a .json file (docs/testing.md) (default single-store-offline)`,
  },
  seed: { flag: 'seed', description: 'seed of the workload and the schedule; the same seed replays them (default 1)' },
  stores: { flag: 'stores', description: 'store processes, each behind its own fault proxy (default 3)' },
  duration: {
    flag: 'duration',
    description: 'seconds of workload and faults, before the heal and the check (default 30)',
  },
  rate: { flag: 'rate', description: 'operations per second across stores and reservations (default 20)' },
  skus: { flag: 'skus', description: 'SKUs in the workload (default 5)' },
  overrideCap: {
    flag: 'override-cap',
    description:
      'manager override at every store and the hub, capped at this deficit; a tenth of sales ask for it (default 0: off)',
  },
  dataDir: { flag: 'data', description: 'data directory of the run (default .data/sim/<scenario>-<seed>-<time>)' },
  report: { flag: 'report', description: 'where the JSON report goes (default <data>/report.json)' },
} satisfies Record<string, FlagSpec>;

const commands: Record<
  string,
  { summary: string; flags: Record<string, FlagSpec>; run: (argv: string[]) => Promise<void> }
> = {
  hub: { summary: 'run the cloud hub', flags: hubFlags, run: runHub },
  store: { summary: 'run a store node', flags: storeFlags, run: runStore },
  token: { summary: 'print a store token signed with the hub secret', flags: tokenFlags, run: runToken },
  proxy: { summary: 'a TCP fault proxy in front of the hub, with a control API', flags: proxyFlags, run: runProxy },
  sim: {
    summary:
      'partition test: real hub and stores behind fault proxies, a seeded workload and schedule, a checked verdict',
    flags: simFlags,
    run: async (argv) => {
      try {
        process.exitCode = await runSimCommand(parseFlags(argv, simFlags, SimOptionsSchema));
      } catch (error) {
        if (error instanceof SimInputError) throw new UsageError(error.message);
        throw error;
      }
    },
  },
  demo: {
    summary: 'run a hub, three stores and light traffic',
    flags: demoFlags,
    run: (argv) => runDemo(parseDemo(argv)),
  },
};

function usage(): string {
  return [
    'usage: shelfsync <command> [flags]   (npm run shelfsync -- <command> ...)',
    '',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(6)} ${c.summary}`),
    '',
    'shelfsync <command> --help shows its flags.',
  ].join('\n');
}

async function runHub(argv: string[]): Promise<void> {
  const raw = parseFlags(
    argv,
    hubFlags,
    HubConfigSchema.extend({ secret: z.string().optional(), apiToken: z.string().optional() }),
  );
  ensureWritableDataDir(raw.dataDir);
  const secret = raw.secret ?? dataDirSecret(raw.dataDir, 'hub-secret');
  const apiToken = raw.apiToken ?? dataDirSecret(raw.dataDir, 'api-token');
  const config = HubConfigSchema.parse({ ...raw, secret, apiToken });
  const hub = await startHub(config);
  process.stdout.write(`hub listening on ${hub.url}\n`);
  onShutdown(() => hub.close());
}

async function runStore(argv: string[]): Promise<void> {
  const parsed = parseFlags(argv, storeFlags, StoreConfigSchema);
  ensureWritableDataDir(parsed.dataDir);
  // The override needs a manager token: kept in the data directory unless given.
  const config = checkStoreConfig(
    parsed.overrideCap > 0 && parsed.managerToken === undefined
      ? {
          ...parsed,
          managerToken: parseFlagValue(
            StoreConfigSchema.shape.managerToken,
            dataDirSecret(parsed.dataDir, 'manager-token'),
            'manager-token',
          ),
        }
      : parsed,
  );
  const store = await startStore(config);
  process.stdout.write(`store ${config.id} listening on ${store.url}\n`);
  onShutdown(() => store.close());
}

async function runProxy(argv: string[]): Promise<void> {
  const config = parseFlags(
    argv,
    proxyFlags,
    z.object({
      port: z.coerce.number().int().min(0).max(65535),
      target: z.coerce.number().int().min(1).max(65535),
      controlPort: z.coerce.number().int().min(0).max(65535).default(0),
    }),
  );
  const running = await startProxy({ port: config.port, targetPort: config.target, controlPort: config.controlPort });
  process.stdout.write(
    `proxy listening on http://127.0.0.1:${running.proxy.port} (to 127.0.0.1:${config.target}; control on ${running.controlUrl})\n`,
  );
  onShutdown(() => running.close());
}

async function runToken(argv: string[]): Promise<void> {
  const { store, secret } = parseFlags(
    argv,
    tokenFlags,
    z.object({
      store: StoreIdSchema,
      secret: z.string().min(MIN_SECRET_LENGTH, `at least ${MIN_SECRET_LENGTH} characters`),
    }),
  );
  process.stdout.write(`${signStoreToken(store, secret)}\n`);
  return Promise.resolve();
}

function parseDemo(argv: string[]) {
  return parseFlags(
    argv,
    demoFlags,
    z.object({
      port: z.coerce.number().int().min(1).max(65532).default(8080),
      dataDir: z.string().min(1).default(join('.data', 'demo')),
      seed: z.coerce.number().int().default(1),
      rate: z.coerce.number().positive().max(1000).default(4),
    }),
  );
}

/** A failure to start that a sentence explains better than a stack trace. */
class StartupError extends Error {
  override readonly name = 'StartupError';
}

/**
 * Creates the data directory if needed and proves it takes a synced write, so a
 * read-only or full disk stops the process at start, naming the directory,
 * instead of at its first acknowledged operation.
 */
function ensureWritableDataDir(dir: string): void {
  const probe = join(dir, '.write-probe');
  try {
    mkdirSync(dir, { recursive: true });
    const fd = openSync(probe, 'w');
    try {
      writeFileSync(fd, 'shelfsync');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    rmSync(probe, { force: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new StartupError(`cannot use data directory ${dir}: ${reason}`, { cause: error });
  }
}

/** A value read from a file, checked like the flag it stands in for. */
function parseFlagValue<S extends z.ZodType>(schema: S, value: unknown, name: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new UsageError(`${name}: ${result.error.issues[0]?.message ?? 'invalid'}`);
  return result.data;
}

/** A secret of the hub kept in its data directory (`hub-secret`, `api-token`), created on first use (mode 0600). */
function dataDirSecret(dataDir: string | undefined, name: string): string {
  if (dataDir === undefined) throw new UsageError('--data (or SHELFSYNC_DATA): required');
  const file = join(dataDir, name);
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
    process.stderr.write(`created a new ${name} in ${file}\n`);
  }
  return readFileSync(file, 'utf8').trim();
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  const command = commands[name];
  if (command === undefined) throw new UsageError(`unknown command "${name}"\n\n${usage()}`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`usage: shelfsync ${name} [flags]\n${command.summary}\n\n${describeFlags(command.flags)}\n`);
    return;
  }
  try {
    await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError)
      throw new UsageError(`shelfsync ${name}: ${error.message}\n(see shelfsync ${name} --help)`);
    throw error;
  }
}

installProcessPolicy();
main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof StartupError) {
    process.stderr.write(`shelfsync: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
