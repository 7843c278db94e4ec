import { CloseCode } from '@shelfsync/protocol';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const protocolDoc = join(import.meta.dirname, '..', 'docs', 'protocol.md');

/** The rows of the "Close codes" table in docs/protocol.md: code and name. */
function documentedCloseCodes(): [number, string][] {
  const text = readFileSync(protocolDoc, 'utf8');
  const section = text.slice(text.indexOf('## Close codes'));
  return [...section.matchAll(/^\| (\d{4}) \| (\w+) +\|/gm)].map((m) => [Number(m[1]), m[2] ?? '']);
}

describe('docs/protocol.md', () => {
  it('lists every close code of packages/protocol/src/close-codes.ts, by code and name, and no other', () => {
    const defined = Object.entries(CloseCode)
      .map(([name, { code }]): [number, string] => [code, name])
      .sort((a, b) => a[0] - b[0]);
    expect(documentedCloseCodes()).toEqual(defined);
  });
});
