import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const page = (name: string): string => fileURLToPath(new URL(`./${name}.html`, import.meta.url));

/**
 * Two pages from one build: dashboard.html (served by the hub at /) and
 * console.html (served by each store node at /). Hashed asset names let the
 * servers cache them for a year; the pages themselves are revalidated.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Every script and style as a file of its own: the pages' CSP allows nothing inline.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    rollupOptions: { input: { dashboard: page('dashboard'), console: page('console') } },
  },
});
