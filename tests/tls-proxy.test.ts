import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { Cluster, eventually, get, post } from './support/cluster.js';

/**
 * docs/examples/nginx-tls.conf, the TLS setup docs/security.md recommends, run as
 * it is (only its host, port and certificate paths replaced) in front of a real
 * hub: a store syncs over wss through it, the storefront answers over https, and
 * an event stream and a Yjs reader pass through.
 */
const EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'examples', 'nginx-tls.conf');
const NGINX = process.env.SHELFSYNC_NGINX ?? '/usr/sbin/nginx';
/** Only an explicit choice skips these tests; a missing nginx otherwise fails them. */
const SKIP = process.env.SHELFSYNC_SKIP_TLS_TESTS === '1';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** Replaces `from` with `to` in `text`, failing when the example no longer holds `from` (so test and doc cannot drift). */
function replaceExact(text: string, from: string, to: string): string {
  expect(text, `docs/examples/nginx-tls.conf should contain "${from}"`).toContain(from);
  return text.split(from).join(to);
}

/** GET over https trusting only the test's own certificate. */
function httpsGet(
  url: string,
  ca: Buffer,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(SKIP)('TLS at a reverse proxy (docs/examples/nginx-tls.conf)', () => {
  // As the example says: the hub reads the client of a proxied request from X-Forwarded-For.
  const cluster = new Cluster({ hubFlags: ['--trusted-proxies', '127.0.0.1'] });
  let nginx: ChildProcess | null = null;
  let tlsPort = 0;
  let ca: Buffer;

  beforeAll(async () => {
    if (!existsSync(NGINX)) {
      throw new Error(
        `nginx is not at ${NGINX}: install it (apt-get install -y nginx-light; .ci/run does), point SHELFSYNC_NGINX at it, or set SHELFSYNC_SKIP_TLS_TESTS=1 to skip the TLS tests on purpose`,
      );
    }
    const dir = join(cluster.dir, 'nginx');
    spawnSync('mkdir', ['-p', join(dir, 'logs'), join(dir, 'tmp')]);
    const crt = join(dir, 'hub.crt');
    const key = join(dir, 'hub.key');
    const made = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        crt,
      ],
      { encoding: 'utf8' },
    );
    expect(made.status, made.stderr).toBe(0);
    ca = readFileSync(crt);

    await cluster.startHub();
    tlsPort = await freePort();
    let site = readFileSync(EXAMPLE, 'utf8');
    site = replaceExact(site, 'server 127.0.0.1:8080;', `server 127.0.0.1:${cluster.hubPort};`);
    site = replaceExact(site, 'listen 443 ssl;', `listen 127.0.0.1:${tlsPort} ssl;`);
    site = replaceExact(site, '/etc/shelfsync/tls/hub.crt', crt);
    site = replaceExact(site, '/etc/shelfsync/tls/hub.key', key);
    writeFileSync(join(dir, 'shelfsync.conf'), site);
    // The main configuration a distribution supplies, reduced to what a test needs: no root paths.
    writeFileSync(
      join(dir, 'nginx.conf'),
      [
        'daemon off;',
        'worker_processes 1;',
        `pid ${join(dir, 'nginx.pid')};`,
        `error_log ${join(dir, 'logs', 'error.log')} warn;`,
        ...(process.getuid?.() === 0 ? ['user root;'] : []),
        'events { worker_connections 256; }',
        'http {',
        `  access_log ${join(dir, 'logs', 'access.log')};`,
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
          (kind) => `  ${kind}_temp_path ${join(dir, 'tmp', kind)};`,
        ),
        `  include ${join(dir, 'shelfsync.conf')};`,
        '}',
      ].join('\n'),
    );
    const checked = spawnSync(NGINX, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
    expect(checked.status, checked.stderr).toBe(0);
    nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
    await vi.waitFor(
      async () => expect((await httpsGet(`https://127.0.0.1:${tlsPort}/healthz`, ca)).status).toBe(200),
      {
        timeout: 10_000,
        interval: 50,
      },
    );
    await cluster.startStore('north', {
      hubUrl: `wss://127.0.0.1:${tlsPort}`,
      env: { NODE_EXTRA_CA_CERTS: crt },
    });
  }, 90_000);

  afterAll(async () => {
    // SIGTERM is nginx's fast shutdown: a graceful one would wait for the store's hour-long link.
    if (nginx !== null && nginx.exitCode === null) {
      const exited = new Promise((resolve) => nginx?.once('exit', resolve));
      nginx.kill('SIGTERM');
      await exited;
    }
    await cluster.stop();
  });

  it('a store syncs over wss through the proxy, and the storefront answers over https', async () => {
    expect((await post(cluster.store('north'), '/v1/receipts', { sku: 'TLS-1', quantity: 7 }, 'tls-r')).status).toBe(
      201,
    );
    expect((await post(cluster.store('north'), '/v1/sales', { sku: 'TLS-1', quantity: 2 }, 'tls-s')).status).toBe(201);
    await vi.waitFor(
      async () => {
        const read = await httpsGet(`https://127.0.0.1:${tlsPort}/v1/skus/TLS-1`, ca);
        expect(read.status).toBe(200);
        expect(JSON.parse(read.body)).toMatchObject({ sku: 'TLS-1', available: 5 });
      },
      { timeout: 15_000, interval: 100 },
    );
    // The store's link really goes through TLS: the hub sees it connected.
    await eventually(async () => (await get(`http://127.0.0.1:${cluster.hubPort}`, '/v1/stores')).body, {
      stores: [{ storeId: 'north', connected: true }],
    });
    // Metrics are kept off the public side.
    expect((await httpsGet(`https://127.0.0.1:${tlsPort}/metrics`, ca)).status).toBe(404);
  });

  it('a Yjs reader upgrades over wss through the proxy', async () => {
    const socket = new WebSocket(`wss://127.0.0.1:${tlsPort}/yjs/TLS-1`, { ca });
    const first = await new Promise<Buffer>((resolve, reject) => {
      socket.once('message', (data: Buffer) => resolve(data));
      socket.once('error', reject);
    });
    // y-websocket's sync step 1 from the hub: message type 0 (sync), then 0 (step 1).
    expect([first[0], first[1]]).toEqual([0, 0]);
    socket.close();
  });

  it('the event stream passes through unbuffered', async () => {
    const events = await new Promise<string>((resolve, reject) => {
      const req = request(`https://127.0.0.1:${tlsPort}/v1/events?sku=TLS-1`, { ca }, (res) => {
        expect(res.statusCode).toBe(200);
        expect(String(res.headers['content-type'])).toContain('text/event-stream');
        let seen = '';
        let sold = false;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          seen += chunk;
          // Once the stream is open (its retry line arrived), a sale must reach it as an event.
          if (!sold && seen.includes('retry:')) {
            sold = true;
            post(cluster.store('north'), '/v1/sales', { sku: 'TLS-1', quantity: 1 }, 'tls-s2').catch(reject);
          }
          if (seen.includes('event: stock')) {
            req.destroy();
            resolve(seen);
          }
        });
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ECONNRESET') reject(error);
      });
      req.end();
    });
    expect(events).toContain('"sku":"TLS-1"');
  });
});
