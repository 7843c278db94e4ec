import { ErrorCode } from '@shelfsync/protocol';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { Middleware } from 'koa';
import { problem, type RequestState } from './http.js';

export interface StaticFilesOptions {
  /** The directory of built files (a Vite `dist/`). */
  readonly root: string;
  /** The page served at `/`, relative to `root` (e.g. `dashboard.html`). HTML files are served only there. */
  readonly index: string;
  /** What `/` answers when `root` has no `index`: how to build it. */
  readonly missingHint: string;
}

interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
  readonly cacheControl: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** Vite names built assets by content hash (`index-B3x_9aQf.js`): such a name never changes content. */
const HASHED = /[.-][A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

/** The page may load only its own scripts, styles and images, and talk only to its own origin. */
const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/**
 * Serves a directory of built static files (the dashboard or the store console)
 * next to an API: GET and HEAD only, `index` at `/`, and otherwise only files
 * that were in the directory when it was last read, looked up by exact path in
 * that list. No request path ever reaches the file system, so `..`, encoded
 * separators or symlinks cannot lead out of `root`. Paths that are not such a
 * file pass through untouched (unknown API paths still answer 404 problem+json).
 *
 * Files are read into memory (a built UI is a few hundred KB) and read again when
 * the index changed on disk, so a rebuild is picked up without a restart. Hashed
 * assets are cached for a year; the page is revalidated every time (ETag).
 */
export function staticFiles(options: StaticFilesOptions): Middleware<RequestState> {
  let files = new Map<string, StaticFile>();
  let indexStamp = '';
  const indexPath = join(options.root, options.index);

  const reload = (): void => {
    let stamp = '';
    try {
      const stat = statSync(indexPath);
      stamp = `${stat.mtimeMs}:${stat.size}`;
    } catch {
      // Not built (yet): nothing to serve.
    }
    if (stamp === indexStamp) return;
    indexStamp = stamp;
    files = stamp === '' ? new Map<string, StaticFile>() : readTree(options.root, options.index);
  };
  reload();

  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      await next();
      return;
    }
    if (ctx.path === '/') reload();
    const file = files.get(ctx.path);
    if (file === undefined) {
      if (ctx.path === '/') throw problem(ErrorCode.NotFound, options.missingHint);
      await next();
      return;
    }
    ctx.set('Cache-Control', file.cacheControl);
    ctx.set('ETag', file.etag);
    ctx.set('X-Content-Type-Options', 'nosniff');
    if (ctx.path === '/') for (const [name, value] of Object.entries(PAGE_HEADERS)) ctx.set(name, value);
    const given = ctx.get('if-none-match');
    if (given !== '' && given.split(',').some((tag) => tag.trim() === file.etag)) {
      ctx.status = 304;
      ctx.body = null;
      return;
    }
    ctx.type = file.type;
    ctx.body = file.body;
  };
}

/** Every servable file under `root` by URL path: the index as `/`, other HTML and dotfiles left out. */
function readTree(root: string, index: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    const rel = relative(root, full).split(sep).join('/');
    const extension = /\.[a-z0-9]+$/i.exec(entry.name)?.[0].toLowerCase() ?? '';
    const type = CONTENT_TYPES[extension];
    if (type === undefined || rel.split('/').some((part) => part.startsWith('.'))) continue;
    const isIndex = rel === index;
    if (extension === '.html' && !isIndex) continue;
    const body = readFileSync(full);
    files.set(isIndex ? '/' : `/${rel}`, {
      body,
      type,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      cacheControl: isIndex
        ? 'no-cache'
        : rel.startsWith('assets/') && HASHED.test(entry.name)
          ? 'public, max-age=31536000, immutable'
          : 'public, max-age=300',
    });
  }
  return files;
}
