import { metricSamples, startHubProcess, startStoreProcess, writeSecretFile, type ChildCommand } from '@shelfsync/cli';
import { signStoreToken } from '@shelfsync/hub';
import { StoreIdSchema } from '@shelfsync/protocol';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, vi } from 'vitest';

/** Real hub and store processes on loopback, each on a free port, with their own data directories. */
export class Cluster {
  /**
   * `escrow: 'off'` keeps every right where the store put it: for tests of sync
   * and durability that count a store's rights exactly. The allocator's own tests
   * (and the default) run it on.
   */
  constructor(
    private readonly settings: { escrow?: 'on' | 'off'; hubFlags?: readonly string[]; hubDataDir?: string } = {},
  ) {}

  readonly dir = mkdtempSync(join(tmpdir(), 'shelfsync-it-'));
  readonly secret = 'integration-test-secret-0123456789';
  readonly apiToken = 'integration-api-token-0123456789';
  /** Secrets reach the processes as owner-only files, as in production: never on a command line. */
  readonly secretFile = writeSecretFile(join(this.dir, 'secrets', 'hub-secret'), this.secret);
  readonly apiTokenFile = writeSecretFile(join(this.dir, 'secrets', 'api-tokens'), this.apiToken);
  hub: ChildCommand | null = null;
  hubPort = 0;
  readonly stores = new Map<string, ChildCommand>();

  /** Starts the hub (again, on the same port and data, after a stop). */
  async startHub(): Promise<ChildCommand> {
    this.hub = await startHubProcess(
      // The shortest idle limit, so documents leave and reload under the tests' own traffic.
      {
        port: this.hubPort,
        dataDir: this.settings.hubDataDir ?? join(this.dir, 'hub'),
        secretFile: this.secretFile,
        apiTokenFile: this.apiTokenFile,
        flags: ['--evict-idle-ms', '1000', '--escrow', this.settings.escrow ?? 'on', ...(this.settings.hubFlags ?? [])],
      },
      options,
    );
    this.hubPort = Number(new URL(this.hub.url).port);
    return this.hub;
  }

  async stopHub(): Promise<void> {
    await this.hub?.stop();
    this.hub = null;
  }

  async startStore(
    id: string,
    extra: {
      flags?: readonly string[];
      dataDir?: string;
      hubPort?: number;
      /** The hub's address when it is not this cluster's hub on loopback (a TLS proxy in front of it). */
      hubUrl?: string;
      env?: NodeJS.ProcessEnv;
      tokenFile?: string;
    } = {},
  ): Promise<ChildCommand> {
    const store = await startStoreProcess(
      {
        id,
        hubUrl: extra.hubUrl ?? `ws://127.0.0.1:${extra.hubPort ?? this.hubPort}`,
        port: 0,
        dataDir: extra.dataDir ?? this.dataDir(id),
        tokenFile: extra.tokenFile ?? this.tokenFile(id),
        flags: extra.flags ?? [],
      },
      { ...options, env: { ...options.env, ...extra.env } },
    );
    this.stores.set(id, store);
    return store;
  }

  dataDir(id: string): string {
    return join(this.dir, id);
  }

  token(id: string, ttlMs?: number): string {
    return signStoreToken(StoreIdSchema.parse(id), this.secret, ttlMs === undefined ? {} : { ttlMs });
  }

  /** Writes a fresh token of `id` to its owner-only file (the store re-reads it before each attempt); returns the path. */
  tokenFile(id: string, ttlMs?: number): string {
    return writeSecretFile(join(this.dir, 'secrets', `${id}.token`), this.token(id, ttlMs));
  }

  /** Writes an owner-only file in the cluster's secrets directory; returns the path. */
  secretFileOf(name: string, contents: string): string {
    return writeSecretFile(join(this.dir, 'secrets', name), contents);
  }

  store(id: string): string {
    const store = this.stores.get(id);
    if (store === undefined) throw new Error(`no store ${id}`);
    return store.url;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.stores.values()].map((s) => s.stop()));
    await this.stopHub();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const options = { nodeArgs: ['--import', 'tsx'], env: { SHELFSYNC_LOG_LEVEL: 'warn' } };

export interface JsonResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

export async function post(
  base: string,
  path: string,
  body: unknown,
  key?: string,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key === undefined ? {} : { 'idempotency-key': key }),
      ...headers,
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

export async function get(base: string, path: string, headers: Record<string, string> = {}): Promise<JsonResponse> {
  const res = await fetch(`${base}${path}`, { headers });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** Waits until `read` returns what `expected` matches (toMatchObject), polling; fails after `timeout` ms. */
export async function eventually(read: () => Promise<unknown>, expected: unknown, timeout = 15_000): Promise<void> {
  await vi.waitFor(async () => expect(await read()).toMatchObject(expected as object), { timeout, interval: 50 });
}

/** Reads one sample from Prometheus text: the value of `name` whose labels include `labels`, or undefined. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  return metricSamples(text, name, labels)[0]?.value;
}
