import { MIN_SECRET_LENGTH } from '@shelfsync/hub';
import type { FlagSpec } from './args.js';
import { SCENARIOS } from './sim/scenarios.js';

/** Every command's flags, each with its SHELFSYNC_* variable and its help line. */
export const hubFlags = {
  port: { flag: 'port', env: 'SHELFSYNC_PORT', description: 'port to listen on (0: any free port)' },
  host: { flag: 'host', env: 'SHELFSYNC_HOST', description: 'address to bind (default 127.0.0.1)' },
  dataDir: { flag: 'data', env: 'SHELFSYNC_DATA', description: 'data directory' },
  database: {
    flag: 'database',
    env: 'SHELFSYNC_DATABASE',
    description:
      'PostgreSQL URL, postgres://USER@HOST:PORT/DB: every durable record goes there instead of <data>/hub.sqlite (every hub on one database is a node of one cluster)',
  },
  secretFile: {
    flag: 'secret-file',
    env: 'SHELFSYNC_SECRET_FILE',
    description: `file (owner-only) holding the store-token signing secret, ${MIN_SECRET_LENGTH}+ chars (default: <data>/hub-secret, created)`,
  },
  secret: {
    flag: 'secret',
    env: 'SHELFSYNC_SECRET',
    description: 'the signing secret itself: for experiments only, it shows in ps (use --secret-file)',
  },
  apiTokenFile: {
    flag: 'api-token-file',
    env: 'SHELFSYNC_API_TOKEN_FILE',
    description: `file (owner-only) of API tokens, one a line, any valid, followed while running (default: <data>/api-token, created)`,
  },
  apiToken: {
    flag: 'api-token',
    env: 'SHELFSYNC_API_TOKEN',
    description: 'one API token itself: for experiments only, it shows in ps (use --api-token-file)',
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
    description:
      'demand horizon: the online escrow keeps online orders over this long, the POS the rest (default 14400000, 4 h)',
  },
  escrowHalfLifeMs: {
    flag: 'escrow-half-life-ms',
    env: 'SHELFSYNC_ESCROW_HALF_LIFE_MS',
    description: 'half-life of the sales-velocity estimate (default 3600000, 1 h)',
  },
  escrowMinQuota: {
    flag: 'escrow-min-quota',
    env: 'SHELFSYNC_ESCROW_MIN_QUOTA',
    description: "the POS's need whatever its sales, when a scarce shelf is split between channels (default 2)",
  },
  escrowOnlineFloor: {
    flag: 'escrow-online-floor',
    env: 'SHELFSYNC_ESCROW_ONLINE_FLOOR',
    description: "units a location's online escrow keeps beyond its online orders over the horizon (default 1)",
  },
  escrowOnlinePooling: {
    flag: 'escrow-online-pooling',
    env: 'SHELFSYNC_ESCROW_ONLINE_POOLING',
    description:
      "share (0-1) of a location's online-demand estimate taken from the SKU's chain-wide online orders per location (default 0.5)",
  },
  reservationReleaseWaitMs: {
    flag: 'reservation-release-wait-ms',
    env: 'SHELFSYNC_RESERVATION_RELEASE_WAIT_MS',
    description:
      'how long an order the online escrow cannot cover waits for the store to release units from its POS (default 2000; 0: never ask)',
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
  trustedProxies: {
    flag: 'trusted-proxies',
    env: 'SHELFSYNC_TRUSTED_PROXIES',
    description:
      'reverse proxies in front of the hub, comma-separated IPs: their X-Forwarded-For names the client for per-client limits',
  },
  faultProxies: {
    flag: 'fault-proxies',
    env: 'SHELFSYNC_FAULT_PROXIES',
    description:
      'fault proxies in front of store links, for testers: north=http://127.0.0.1:9181,... (the control API of each `shelfsync proxy`)',
  },
} satisfies Record<string, FlagSpec>;

export const storeFlags = {
  id: { flag: 'id', env: 'SHELFSYNC_STORE_ID', description: 'store id' },
  hubUrl: {
    flag: 'hub',
    env: 'SHELFSYNC_HUB',
    description:
      'hub address, e.g. ws://127.0.0.1:8080, or its nodes comma-separated (ws://a:8080,ws://b:8080): the store uses the first it reaches and moves on when one fails',
  },
  port: { flag: 'port', env: 'SHELFSYNC_PORT', description: 'port of the local POS API (0: any free port)' },
  host: { flag: 'host', env: 'SHELFSYNC_HOST', description: 'address to bind (default 127.0.0.1)' },
  dataDir: { flag: 'data', env: 'SHELFSYNC_DATA', description: 'data directory' },
  tokenFile: {
    flag: 'token-file',
    env: 'SHELFSYNC_TOKEN_FILE',
    description:
      'file (owner-only) holding the store token from `shelfsync token`; re-read before each connection attempt',
  },
  token: {
    flag: 'token',
    env: 'SHELFSYNC_TOKEN',
    description: 'the store token itself: for experiments only, it shows in ps (use --token-file)',
  },
  authRetryMs: {
    flag: 'auth-retry-ms',
    env: 'SHELFSYNC_AUTH_RETRY_MS',
    description:
      'wait after the hub refused the token, it expired, or a close no retry heals (stop-and-alert), before trying again (default 300000, 5 min)',
  },
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
  managerTokenFile: {
    flag: 'manager-token-file',
    env: 'SHELFSYNC_MANAGER_TOKEN_FILE',
    description:
      'file (owner-only) of manager tokens for X-Manager-Token, one a line, any valid, 16+ chars (default: <data>/manager-token, created)',
  },
  managerToken: {
    flag: 'manager-token',
    env: 'SHELFSYNC_MANAGER_TOKEN',
    description: 'one manager token itself: for experiments only, it shows in ps (use --manager-token-file)',
  },
  idempotencyHours: {
    flag: 'idempotency-hours',
    env: 'SHELFSYNC_IDEMPOTENCY_HOURS',
    description: 'how long a retry with the same Idempotency-Key gets the first answer (default 24)',
  },
} satisfies Record<string, FlagSpec>;

export const proxyFlags = {
  port: { flag: 'port', env: 'SHELFSYNC_PORT', description: 'port stores connect to (0: any free port)' },
  target: { flag: 'target', env: 'SHELFSYNC_TARGET_PORT', description: 'port of the hub on 127.0.0.1' },
  controlPort: {
    flag: 'control-port',
    env: 'SHELFSYNC_CONTROL_PORT',
    description: 'port of the control API: /status, /partition, /hold, /restore, /degrade, /flap (0: any)',
  },
} satisfies Record<string, FlagSpec>;

export const demoFlags = {
  port: { flag: 'port', env: 'SHELFSYNC_PORT', description: 'hub port (default 8080; stores take the next three)' },
  dataDir: { flag: 'data', env: 'SHELFSYNC_DATA', description: 'data directory (default .data/demo)' },
  seed: { flag: 'seed', description: 'seed of the catalog and the traffic (default 1)' },
  rate: { flag: 'rate', description: 'operations per second across all stores (default 4)' },
  duration: {
    flag: 'duration',
    description: 'stop after this many seconds and print the summary (default 0: run until Ctrl-C)',
  },
  cluster: {
    flag: 'cluster',
    boolean: true,
    description:
      'three hub nodes on a throwaway PostgreSQL server (needs PostgreSQL installed); hubs on --port and the next two, stores on the three after',
  },
  killNodeAt: {
    flag: 'kill-node-at',
    description: 'with --cluster: kill -9 hub node b this many seconds in, restart it, and report the failover',
  },
} satisfies Record<string, FlagSpec>;

export const simFlags = {
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
  cluster: {
    flag: 'cluster',
    boolean: true,
    description:
      'three hub nodes on a PostgreSQL server the run starts (needs PostgreSQL installed); implied by hub-failover and db-partition',
  },
} satisfies Record<string, FlagSpec>;
