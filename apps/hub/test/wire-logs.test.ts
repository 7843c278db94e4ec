import { createLogger } from '@shelfsync/edge';
import { ErrorCode, StoreIdSchema } from '@shelfsync/protocol';
import { encodeControlFrame } from '@shelfsync/sync';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RawStoreClient } from '../../../tests/support/raw-client.js';
import { exchange } from '../../../tests/support/raw-socket.js';
import { HubConfigSchema } from '../src/config.js';
import { startHub, type RunningHub } from '../src/hub-server.js';
import { signStoreToken } from '../src/token.js';

/** The hub in this process, logging into an array, so a test can count what a peer made it write. */
describe('what a peer can make the hub log is bounded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsync-wire-logs-'));
  const secret = 'integration-test-secret-0123456789';
  const lines: { peer?: string; msg?: string }[] = [];
  let hub: RunningHub;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk
          .toString('utf8')
          .split('\n')
          .filter((l) => l !== '')) {
          lines.push(JSON.parse(line) as { peer?: string; msg?: string });
        }
        done();
      },
    });
    hub = await startHub(
      HubConfigSchema.parse({ port: 0, dataDir: dir, secret, apiTokens: ['integration-api-token-0123456789'] }),
      createLogger('hub', {}, sink),
    );
  }, 60_000);
  afterAll(async () => {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a store flooding error frames, and a client flooding refused requests, cost a few lines each', async () => {
    const storeId = StoreIdSchema.parse('mallory');
    const client = await RawStoreClient.connect(hub.port, storeId, signStoreToken(storeId, secret));
    const flood = encodeControlFrame({ type: 'error', code: ErrorCode.Internal, detail: 'x'.repeat(2000) });
    for (let i = 0; i < 1_000; i++) client.sendRaw(flood);
    // The session answers in order: once a later request is answered (or the session closed), the flood was read.
    let answered = false;
    client.fetchDoc('WIRE-LOG').then(
      () => (answered = true),
      () => undefined,
    );
    await vi.waitFor(() => expect(answered || client.closeCode !== null).toBe(true), { timeout: 30_000, interval: 20 });

    for (let i = 0; i < 200; i++) expect((await exchange(hub.port, 'GARBAGE\r\n\r\n')).status).toBe(400);
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);

    // Each flood was logged, up to the limit of 10 lines per peer and minute.
    const fromStore = lines.filter((l) => l.peer === 'store:mallory').length;
    expect(fromStore).toBeGreaterThan(0);
    expect(fromStore).toBeLessThanOrEqual(10);
    expect(lines.filter((l) => l.peer === '127.0.0.1')).toHaveLength(10);
    // The rest of the log is the hub's own start and the session's life, not the flood.
    expect(lines.length).toBeLessThan(60);
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/shelfsync_connection_errors_total\{reason="bad_request_line",process="hub"\} 200/);
    client.close();
  });
});
