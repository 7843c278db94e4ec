/**
 * Writes the table of error codes in docs/errors.md, between the markers
 * `<!-- error-table:start -->` and `<!-- error-table:end -->`, from
 * packages/protocol/src/errors.ts: every code in declaration order, the HTTP
 * status it answers with, its recovery class, the fields of its details, and
 * its doc comment. `--check` fails instead when the
 * file differs from what errors.ts says (the test suite runs the same
 * comparison, so the two cannot drift).
 *
 * One column is one entry of `columns`: a header and how to read a row's cell.
 */
import { ErrorCode, errorDetailFields, httpStatusByCode, recoveryByErrorCode } from '../packages/protocol/src/index.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const errorsSource = join(root, 'packages', 'protocol', 'src', 'errors.ts');
export const errorTableDoc = join(root, 'docs', 'errors.md');
export const START_MARKER = '<!-- error-table:start -->';
export const END_MARKER = '<!-- error-table:end -->';

/** One error code, as the table shows it. */
export interface ErrorRow {
  /** The constant's name in `ErrorCode` (`InsufficientRights`). */
  readonly name: string;
  /** The code itself (`INSUFFICIENT_RIGHTS`). */
  readonly code: ErrorCode;
  /** The HTTP status it answers with (`httpStatusByCode`). */
  readonly status: number;
  /** The constant's doc comment, on one line. */
  readonly meaning: string;
}

export interface Column {
  readonly header: string;
  readonly cell: (row: ErrorRow) => string;
}

/** The table's columns, left to right. */
export const columns: readonly Column[] = [
  { header: 'code', cell: (row) => `\`${row.code}\`` },
  { header: 'HTTP status', cell: (row) => String(row.status) },
  { header: 'recovery', cell: (row) => recoveryByErrorCode[row.code] },
  { header: 'details', cell: (row) => detailFields(row.code) },
  { header: 'meaning', cell: (row) => row.meaning },
];

/** The fields of a code's `details` (`errorDetailsSchemas`), `?` marking the optional ones; empty for none. */
export function detailFields(code: ErrorCode): string {
  return errorDetailFields(code)
    .map((field) => `\`${field.name}${field.optional ? '?' : ''}\``)
    .join(', ');
}

/** The doc comment of each property of `export const ErrorCode = {...}`, by property name. */
export function errorCodeComments(sourceText: string): Map<string, string> {
  const source = ts.createSourceFile('errors.ts', sourceText, ts.ScriptTarget.Latest, true);
  let literal: ts.ObjectLiteralExpression | undefined;
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.name.text === 'ErrorCode') {
      let init = node.initializer;
      while (init !== undefined && (ts.isAsExpression(init) || ts.isSatisfiesExpression(init))) init = init.expression;
      if (init !== undefined && ts.isObjectLiteralExpression(init)) literal = init;
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (literal === undefined) throw new Error(`${errorsSource}: no \`const ErrorCode = {...}\` found`);
  const comments = new Map<string, string>();
  for (const property of literal.properties) {
    if (!ts.isPropertyAssignment(property) || !ts.isIdentifier(property.name)) continue;
    const text = ts
      .getJSDocCommentsAndTags(property)
      .filter(ts.isJSDoc)
      .map((doc) => ts.getTextOfJSDocComment(doc.comment) ?? '')
      .join(' ');
    comments.set(property.name.text, text.replace(/\s+/g, ' ').trim());
  }
  return comments;
}

/** Every error code, in the order errors.ts declares them; a code without a doc comment is an error. */
export function errorRows(sourceText = readFileSync(errorsSource, 'utf8')): ErrorRow[] {
  const comments = errorCodeComments(sourceText);
  return Object.entries(ErrorCode).map(([name, code]) => {
    const meaning = comments.get(name);
    if (meaning === undefined || meaning === '') {
      throw new Error(`${errorsSource}: ErrorCode.${name} has no doc comment; the error table shows it`);
    }
    return { name, code, status: httpStatusByCode[code], meaning };
  });
}

/** A markdown table of `rows` (Prettier aligns it when the document is formatted). */
export function markdownTable(rows: readonly ErrorRow[], cols: readonly Column[] = columns): string {
  const line = (cells: readonly string[]): string => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [
    line(cols.map((c) => c.header)),
    line(cols.map(() => '---')),
    ...rows.map((row) => line(cols.map((c) => c.cell(row)))),
  ].join('\n');
}

function escapeCell(text: string): string {
  return text.replace(/\s+/g, ' ').replaceAll('|', '\\|');
}

/** `document` with the text between its markers replaced by `table`. */
export function replaceTable(document: string, table: string, file = errorTableDoc): string {
  const start = document.indexOf(START_MARKER);
  const end = document.indexOf(END_MARKER);
  if (start < 0 || end < start) throw new Error(`${file}: needs ${START_MARKER} and, after it, ${END_MARKER}`);
  return `${document.slice(0, start + START_MARKER.length)}\n\n${table}\n\n${document.slice(end)}`;
}

/** docs/errors.md as it should be: its table regenerated, formatted as Prettier formats the repository. */
export async function errorTableFiles(): Promise<{ file: string; text: string }[]> {
  const file = errorTableDoc;
  const text = replaceTable(readFileSync(file, 'utf8'), markdownTable(errorRows()), file);
  const options = (await prettier.resolveConfig(file)) ?? {};
  return [{ file, text: await prettier.format(text, { ...options, filepath: file }) }];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = false;
  for (const { file, text } of await errorTableFiles()) {
    if (readFileSync(file, 'utf8') === text) continue;
    if (check) {
      console.error(`${file} is out of date: run npm run error-table`);
      stale = true;
    } else {
      writeFileSync(file, text);
      console.log(`wrote ${file}`);
    }
  }
  if (stale) process.exit(1);
}
