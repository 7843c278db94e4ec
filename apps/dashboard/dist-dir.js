// Where the built pages are, for the hub and the store nodes to serve. Plain
// JavaScript so Node resolves it without the browser code's compiler settings.
import { fileURLToPath } from 'node:url';

/** The Vite output directory: dashboard.html (the hub's page), console.html (a store's page), assets/. */
export const distDir = fileURLToPath(new URL('./dist/', import.meta.url));

/** How to make it, for the answer a server gives at / when it is missing. */
export const buildHint =
  'the dashboard and store console are not built: run `npm run build` (npm test, npm run demo and npm run setup build them)';
