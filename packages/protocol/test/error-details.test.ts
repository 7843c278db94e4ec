import { describe, expect, it } from 'vitest';
import {
  CheckedProblemSchema,
  ErrorCode,
  StoreIdSchema,
  errorDetailsSchemas,
  fail,
  onlineAccount,
  parseProblemDetails,
  shelfsyncError,
  storeAccount,
  toProblem,
  withDetails,
} from '../src/index.js';

const pos = storeAccount(StoreIdSchema.parse('s1'));

describe('details by code', () => {
  it('has a schema, or null for none, for every code', () => {
    expect(Object.keys(errorDetailsSchemas).sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it('accepts only the shape of the code at compile time', () => {
    shelfsyncError(ErrorCode.InsufficientStock, 'nothing left', { available: 0 });
    shelfsyncError(ErrorCode.ValidationFailed, 'body is not valid JSON');
    // @ts-expect-error: a misspelt field
    shelfsyncError(ErrorCode.InsufficientStock, 'nothing left', { availabel: 0 });
    // @ts-expect-error: INSUFFICIENT_RIGHTS always says how many rights and how many were asked for
    shelfsyncError(ErrorCode.InsufficientRights, 'not enough');
    // @ts-expect-error: NOT_FOUND carries no details
    fail(ErrorCode.NotFound, 'no such sku', { sku: 'x' });
    // @ts-expect-error: a reservation state is one of four
    fail(ErrorCode.ReservationClosed, 'closed', { state: 'gone' });
    const error = shelfsyncError(ErrorCode.NotOwner, 'not yours', { account: pos });
    // @ts-expect-error: NOT_OWNER has no `available`
    withDetails(error, { available: 1 });
    expect(withDetails(error, { hubReachable: false })).toEqual({
      code: 'NOT_OWNER',
      detail: 'not yours',
      details: { account: 'store:s1', hubReachable: false },
    });
  });

  it('checks the details of a body against its code, keeping fields a later version adds', () => {
    const details = { account: 'store:s1', rights: -1, requested: 2, hubReachable: true, cause: 'online_escrow' };
    expect(parseProblemDetails(ErrorCode.InsufficientRights, details)).toEqual({ success: true, data: details });
    expect(parseProblemDetails(ErrorCode.InsufficientRights, { ...details, shelf: 'B3' })).toMatchObject({
      success: true,
      data: { shelf: 'B3' },
    });
    expect(parseProblemDetails(ErrorCode.InsufficientRights, { ...details, rights: '2' }).success).toBe(false);
    expect(parseProblemDetails(ErrorCode.InsufficientRights, { ...details, cause: 'meteor' }).success).toBe(false);
    expect(parseProblemDetails(ErrorCode.InsufficientRights, undefined).success).toBe(false);
    expect(parseProblemDetails(ErrorCode.InvalidTransfer, { from: pos, to: 'nowhere' }).success).toBe(false);
    expect(parseProblemDetails(ErrorCode.ValidationFailed, undefined)).toEqual({ success: true, data: {} });
    expect(parseProblemDetails(ErrorCode.NotFound, { anything: 1 })).toEqual({ success: true, data: undefined });
  });

  it('checks whole bodies, as the servers render them', () => {
    const transfer = toProblem(
      shelfsyncError(ErrorCode.InvalidTransfer, 'not one store', { from: pos, to: onlineAccount('dc') }),
    );
    expect(CheckedProblemSchema.parse(transfer)).toEqual(transfer);
    const bad = CheckedProblemSchema.safeParse({ ...transfer, details: { from: pos } });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['details', 'to']);
  });
});
