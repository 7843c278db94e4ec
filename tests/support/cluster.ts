import { ProcessCluster, metricSamples } from '@shelfsync/cli';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, vi } from 'vitest';

/**
 * The tests' cluster: real hub and store processes on loopback (the
 * simulator's ProcessCluster), in a fresh temporary directory removed on stop,
 * with fixed secrets and warnings logged.
 */
export class Cluster extends ProcessCluster {
  /**
   * `escrow: 'off'` keeps every right where the store put it: for tests of sync
   * and durability that count a store's rights exactly. The allocator's own tests
   * (and the default) run it on.
   */
  constructor(settings: { escrow?: 'on' | 'off'; hubFlags?: readonly string[]; hubDataDir?: string } = {}) {
    super({
      dir: mkdtempSync(join(tmpdir(), 'shelfsync-it-')),
      secret: 'integration-test-secret-0123456789',
      apiToken: 'integration-api-token-0123456789',
      start: { nodeArgs: ['--import', 'tsx'], env: { SHELFSYNC_LOG_LEVEL: 'warn' } },
      // The shortest idle limit, so documents leave and reload under the tests' own traffic.
      hubFlags: ['--evict-idle-ms', '1000', '--escrow', settings.escrow ?? 'on', ...(settings.hubFlags ?? [])],
      ...(settings.hubDataDir === undefined ? {} : { hubDataDir: settings.hubDataDir }),
    });
  }

  /** Stops every process and removes the cluster's directory. */
  override async stop(): Promise<void> {
    await super.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

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
