import { ErrorCode } from '@shelfsync/protocol';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detailFields, errorCodeComments, errorRows, errorTableFiles, markdownTable } from '../scripts/error-table.js';

describe('the error-code table (docs/errors.md)', () => {
  it('is what packages/protocol/src/errors.ts says (run npm run error-table after a change)', async () => {
    for (const { file, text } of await errorTableFiles()) expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('has one row per code, with its status and doc comment', () => {
    const rows = errorRows();
    expect(rows.map((row) => row.code)).toEqual(Object.values(ErrorCode));
    const sale = rows.find((row) => row.code === ErrorCode.InsufficientRights);
    expect(sale).toMatchObject({ status: 409, meaning: expect.stringContaining('enough rights') as unknown });
  });

  it("names the fields of each code's details, the optional ones with a ?", () => {
    expect(detailFields(ErrorCode.InsufficientStock)).toBe('`available`');
    expect(detailFields(ErrorCode.UpdateInvalidValue)).toBe('`account?`');
    expect(detailFields(ErrorCode.NotFound)).toBe('');
  });

  it('reads doc comments from the source and refuses a code without one', () => {
    const source = [
      'export const ErrorCode = {',
      '  /** Documented,',
      '   * over two lines | with a bar. */',
      "  ValidationFailed: 'VALIDATION_FAILED',",
      "  InsufficientRights: 'INSUFFICIENT_RIGHTS',",
      '} as const;',
    ].join('\n');
    expect(errorCodeComments(source).get('ValidationFailed')).toBe('Documented, over two lines | with a bar.');
    expect(() => errorRows(source)).toThrow(/InsufficientRights has no doc comment/);
  });

  it('takes a column more without other changes, and escapes cell bars', () => {
    const row = { name: 'X', code: ErrorCode.Internal, status: 500, meaning: 'a | b' };
    const table = markdownTable(
      [row],
      [
        { header: 'code', cell: (r) => r.code },
        { header: 'meaning', cell: (r) => r.meaning },
        { header: 'recovery', cell: () => 'retry' },
      ],
    );
    expect(table.split('\n')).toEqual([
      '| code | meaning | recovery |',
      '| --- | --- | --- |',
      '| INTERNAL | a \\| b | retry |',
    ]);
  });
});
