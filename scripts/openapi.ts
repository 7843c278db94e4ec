/**
 * Writes docs/openapi.yaml (the hub) and docs/openapi-store.yaml (a store node)
 * from the zod schemas. `--check` fails instead when a file differs from what
 * the schemas say (the test suite runs that, so the two cannot drift).
 */
import { hubOpenApi, storeOpenApi } from '../packages/protocol/src/index.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const openApiFiles = (): { file: string; text: string }[] => {
  const docs = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs');
  return [
    { file: join(docs, 'openapi.yaml'), text: stringify(hubOpenApi(), { lineWidth: 0 }) },
    { file: join(docs, 'openapi-store.yaml'), text: stringify(storeOpenApi(), { lineWidth: 0 }) },
  ];
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = false;
  for (const { file, text } of openApiFiles()) {
    if (check) {
      let current = '';
      try {
        current = readFileSync(file, 'utf8');
      } catch {
        // missing counts as stale
      }
      if (current !== text) {
        console.error(`${file} is out of date: run pnpm openapi`);
        stale = true;
      }
    } else {
      writeFileSync(file, text);
      console.log(`wrote ${file}`);
    }
  }
  if (stale) process.exit(1);
}
