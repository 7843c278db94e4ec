import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { computeStock } from '../src/index.js';

/** The raw document of docs/crdt.md's worked example (`-v2`: in schema version 2), exactly as the page shows it. */
function workedExample(suffix = ''): { ledger: Record<string, unknown>; meta: Record<string, unknown> } {
  const page = readFileSync(join(import.meta.dirname, '../../../docs/crdt.md'), 'utf8');
  const block = new RegExp(`\`\`\`json worked-example${suffix}\n([\\s\\S]*?)\`\`\``).exec(page)?.[1];
  if (block === undefined) throw new Error(`docs/crdt.md has no worked-example${suffix} block`);
  return JSON.parse(block) as { ledger: Record<string, unknown>; meta: Record<string, unknown> };
}

describe.each(['', '-v2'])('docs/crdt.md worked example%s', (suffix) => {
  it('a plain Yjs client writing the raw JSON gets the numbers the page states', () => {
    const raw = workedExample(suffix);
    const doc = new Y.Doc();
    for (const [key, value] of Object.entries(raw.ledger)) doc.getMap('ledger').set(key, value);
    for (const [key, value] of Object.entries(raw.meta)) doc.getMap('meta').set(key, value);

    const view = computeStock(doc);
    const rights = Object.fromEntries(
      Object.values(view.accounts).map((a) => [a.account, [a.p, a.n, a.received, a.given, a.rights]]),
    );
    expect(rights).toEqual({
      'store:s1': [12, 5, 1, 4, 4],
      'online:s1': [1, 3, 4, 1, 1],
      'store:s2': [6, 6, 0, 0, 0],
      'online:dc': [40, 2, 0, 0, 38],
    });
    expect(view.value).toBe(43);
    expect(view.locations.s1).toMatchObject({ onShelf: 7, outstandingReservations: 2 });
    expect(view.locations.s2).toMatchObject({ onShelf: 0 });
    expect(view.locations.dc).toMatchObject({ onShelf: 38 });
    expect(view.invalidEntries).toEqual([]);
  });
});
