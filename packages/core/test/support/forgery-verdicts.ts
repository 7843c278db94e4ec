import { ErrorCode, type ErrorCode as Code, type Writer } from '@shelfsync/protocol';
import { expect } from 'vitest';
import * as Y from 'yjs';
import { applyValidatedUpdate, type ValidationLimits } from '../../src/index.js';
import type { ForgeryKind } from '../../src/testing/index.js';
import { REMOTE } from './replica.js';

/** The code each forgery is refused with, in either schema version: every one aims at what a store does not own. */
export const expectedCode: Record<ForgeryKind, Code | readonly Code[]> = {
  foreignKey: ErrorCode.UpdateForeignEntry,
  hubKey: ErrorCode.UpdateForeignEntry,
  deleteForeign: ErrorCode.UpdateForeignEntry,
  deleteHub: ErrorCode.UpdateForeignEntry,
  decreaseTotal: ErrorCode.UpdateDecreasingTotal,
  dropAccount: ErrorCode.UpdateDecreasingTotal,
  overdraw: ErrorCode.UpdateOverdrawn,
  foreignAccount: ErrorCode.UpdateForeignEntry,
  transferElsewhere: ErrorCode.UpdateInvalidValue,
  badValue: ErrorCode.UpdateInvalidValue,
  newRoot: ErrorCode.UpdateUnexpectedType,
  text: ErrorCode.UpdateUnexpectedType,
  nested: ErrorCode.UpdateUnexpectedType,
  listInLedger: ErrorCode.UpdateUnexpectedType,
  meta: ErrorCode.UpdateForeignEntry,
  clientHijack: ErrorCode.UpdateClientIdTaken,
  fork: ErrorCode.UpdateConcurrentEntry,
  missingDependency: ErrorCode.UpdateMissingDependency,
  // Cut or random bytes fail wherever decoding first goes wrong.
  truncated: [
    ErrorCode.UpdateMalformed,
    ErrorCode.UpdateMissingDependency,
    ErrorCode.UpdateUnexpectedType,
    ErrorCode.UpdateInvalidValue,
  ],
  garbage: [
    ErrorCode.UpdateMalformed,
    ErrorCode.UpdateMissingDependency,
    ErrorCode.UpdateUnexpectedType,
    ErrorCode.UpdateInvalidValue,
    ErrorCode.UpdateForeignEntry,
  ],
  gcStruct: ErrorCode.UpdateUnexpectedType,
  trailingBytes: ErrorCode.UpdateMalformed,
  protoKey: ErrorCode.UpdateInvalidValue,
};

/** `update` from `writer` is refused with one of `codes`, and the document is left byte for byte as it was. */
export function expectRejected(
  doc: Y.Doc,
  update: Uint8Array,
  writer: Writer,
  codes: Code | readonly Code[],
  limits: ValidationLimits = {},
): void {
  const before = Y.encodeStateAsUpdate(doc);
  const verdict = applyValidatedUpdate(doc, update, writer, REMOTE, limits);
  expect(verdict.ok, `accepted: ${JSON.stringify(verdict)}`).toBe(false);
  if (!verdict.ok) expect(typeof codes === 'string' ? [codes] : codes).toContain(verdict.error.code);
  expect(Y.encodeStateAsUpdate(doc)).toEqual(before);
}
