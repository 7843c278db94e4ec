import { describe, expect, it } from 'vitest';
import {
  CloseCode,
  ErrorCode,
  Recovery,
  RecoverySchema,
  closeRecovery,
  recoveryByErrorCode,
  shelfsyncError,
  toProblem,
  type CloseCodeName,
  type TableCloseCode,
} from '../src/index.js';

describe('recovery classes', () => {
  it('classifies every error code, and nothing else', () => {
    expect(Object.keys(recoveryByErrorCode).sort()).toEqual(Object.values(ErrorCode).sort());
    for (const recovery of Object.values(recoveryByErrorCode)) expect(RecoverySchema.parse(recovery)).toBe(recovery);
  });

  it('classifies every close code', () => {
    for (const [name, entry] of Object.entries(CloseCode) as [CloseCodeName, (typeof CloseCode)[CloseCodeName]][]) {
      expect(RecoverySchema.safeParse(entry.recovery).success, name).toBe(true);
      expect(closeRecovery(entry.code), name).toBe(entry.recovery);
    }
    const codes = Object.values(CloseCode).map((entry) => entry.code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('pins the classes clients act on', () => {
    expect(recoveryByErrorCode.RATE_LIMITED).toBe(Recovery.Retry);
    expect(recoveryByErrorCode.REPLICA_NOT_READY).toBe(Recovery.Retry);
    expect(recoveryByErrorCode.UPDATE_MISSING_DEPENDENCY).toBe(Recovery.Resync);
    for (const code of [
      'UPDATE_FOREIGN_ENTRY',
      'NOT_OWNER',
      'UPDATE_CLIENT_ID_TAKEN',
      'STORAGE_UNAVAILABLE',
    ] as const) {
      expect(recoveryByErrorCode[code], code).toBe(Recovery.StopAndAlert);
    }
    expect(CloseCode.Unauthorized.recovery).toBe(Recovery.StopAndAlert);
    expect(CloseCode.Replaced.recovery).toBe(Recovery.StopAndAlert);
    expect(CloseCode.TooManyInvalidUpdates.recovery).toBe(Recovery.Resync);
    for (const name of ['SlowConsumer', 'RequestBudgetExceeded', 'LinkCut', 'GoingAway'] as const) {
      expect(CloseCode[name].recovery, name).toBe(Recovery.Retry);
    }
  });

  it('closes a socket only with a code of the table, with its reason or a more precise one', () => {
    const revoked: TableCloseCode = { code: CloseCode.Unauthorized.code, reason: 'token revoked' };
    // @ts-expect-error: 4000 is in no entry of the table
    const madeUp: TableCloseCode = { code: 4000, reason: 'made up' };
    expect([revoked, madeUp].map((close) => closeRecovery(close.code))).toEqual(['stop-and-alert', 'retry']);
  });

  it('retries after a close code shelfsync does not define (an abnormal closure, 1006)', () => {
    expect(closeRecovery(1006)).toBe(Recovery.Retry);
    expect(closeRecovery(4999)).toBe(Recovery.Retry);
  });

  it('puts the class in every problem+json body', () => {
    expect(toProblem(shelfsyncError(ErrorCode.RateLimited, 'slow down'))).toMatchObject({ recovery: 'retry' });
    expect(toProblem(shelfsyncError(ErrorCode.NotFound, 'no such sku'))).toMatchObject({ recovery: 'stop-and-alert' });
  });
});
