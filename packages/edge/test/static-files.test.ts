import Router from '@koa/router';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, createHttpServer, listen, staticFiles, type RequestState } from '../src/index.js';

/** Sends a request with the path exactly as given (fetch would normalize `..` away). */
function raw(port: number, path: string, method = 'GET', headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
    (resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, method, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    },
  );
}

describe('staticFiles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shelfsync-static-'));
  const root = join(dir, 'dist');
  let port = 0;
  let server: ReturnType<typeof createHttpServer>;
  beforeAll(async () => {
    mkdirSync(join(root, 'assets'), { recursive: true });
    writeFileSync(join(root, 'console.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(root, 'dashboard.html'), '<!doctype html><title>dashboard</title>');
    writeFileSync(join(root, 'assets', 'console-B3x_9aQf.js'), 'console.log(1)');
    writeFileSync(join(root, 'assets', 'style-Dk2mZ_81.css'), 'body{}');
    writeFileSync(join(root, 'assets', '.secret.txt'), 'no');
    writeFileSync(join(dir, 'outside.txt'), 'outside the root');
    const router = new Router<RequestState>();
    router.get('/v1/things', (ctx) => {
      ctx.body = { ok: true };
    });
    server = createHttpServer(router, () => {}, undefined, [
      staticFiles({ root, index: 'console.html', missingHint: 'not built' }),
    ]);
    port = await listen(server, 0, '127.0.0.1');
  });
  afterAll(async () => {
    await closeServer(server);
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the index at / with page headers, revalidated by ETag', async () => {
    const page = await raw(port, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('console');
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    const again = await raw(port, '/', 'GET', { 'if-none-match': String(page.headers.etag) });
    expect(again.status).toBe(304);
    expect((await raw(port, '/', 'HEAD')).status).toBe(200);
  });

  it('serves hashed assets with their type, cached for a year', async () => {
    const js = await raw(port, '/assets/console-B3x_9aQf.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await raw(port, '/assets/style-Dk2mZ_81.css')).headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('never leaves the root, serves no other page or dotfile, and leaves API paths and their 404s alone', async () => {
    for (const path of [
      '/../outside.txt',
      '/assets/../../outside.txt',
      '/%2e%2e/outside.txt',
      '/assets/%2e%2e%2f%2e%2e%2foutside.txt',
      '/assets/.secret.txt',
      '/dashboard.html',
      '/console.html',
      '/assets//console-B3x_9aQf.js',
      '/v1/nothing',
    ]) {
      const res = await raw(port, path);
      expect(res.status, path).toBe(404);
      expect(res.headers['content-type'], path).toContain('application/problem+json');
      expect(res.body, path).not.toContain('outside the root');
    }
    expect((await raw(port, '/v1/things')).body).toBe('{"ok":true}');
    const post = await raw(port, '/assets/console-B3x_9aQf.js', 'POST');
    expect(post.status).toBe(404);
  });

  it('answers / with a problem naming how to build when nothing is built, and picks up a build later', async () => {
    const empty = join(dir, 'empty');
    const router = new Router<RequestState>();
    const other = createHttpServer(router, () => {}, undefined, [
      staticFiles({ root: empty, index: 'console.html', missingHint: 'run npm run build' }),
    ]);
    const otherPort = await listen(other, 0, '127.0.0.1');
    try {
      const missing = await raw(otherPort, '/');
      expect(missing.status).toBe(404);
      expect(JSON.parse(missing.body)).toMatchObject({ code: 'NOT_FOUND', detail: 'run npm run build' });
      mkdirSync(empty);
      writeFileSync(join(empty, 'console.html'), '<!doctype html><title>built</title>');
      const built = await raw(otherPort, '/');
      expect(built.status).toBe(200);
      expect(built.body).toContain('built');
    } finally {
      await closeServer(other);
    }
  });
});
