import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  ProblemSchema,
  StoreIdSchema,
  fail,
  httpStatusByCode,
  ok,
  shelfsyncError,
  storeAccount,
  toProblem,
} from '../src/index.js';

describe('errors', () => {
  it('maps every code to a 4xx or 5xx status', () => {
    for (const code of Object.values(ErrorCode)) {
      expect(httpStatusByCode[code], code).toBeGreaterThanOrEqual(400);
      expect(httpStatusByCode[code], code).toBeLessThan(600);
    }
    expect(Object.keys(httpStatusByCode).sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it('renders RFC 9457 problem details with code, detail and request id', () => {
    const problem = toProblem(
      shelfsyncError(ErrorCode.InsufficientRights, 'store:s1 holds 2 rights, 3 needed', {
        account: storeAccount(StoreIdSchema.parse('s1')),
        rights: 2,
        requested: 3,
      }),
      {
        instance: '/v1/sales',
        requestId: 'req-1',
      },
    );
    expect(problem).toEqual({
      type: 'urn:shelfsync:error:insufficient-rights',
      title: 'INSUFFICIENT_RIGHTS',
      status: 409,
      detail: 'store:s1 holds 2 rights, 3 needed',
      code: 'INSUFFICIENT_RIGHTS',
      recovery: 'stop-and-alert',
      instance: '/v1/sales',
      requestId: 'req-1',
      details: { account: 'store:s1', rights: 2, requested: 3 },
    });
    expect(ProblemSchema.parse(problem)).toEqual(problem);
  });

  it('results carry a value or an error, never both', () => {
    expect(ok(3)).toEqual({ ok: true, value: 3 });
    expect(fail(ErrorCode.NotFound, 'no such sku')).toEqual({
      ok: false,
      error: { code: 'NOT_FOUND', detail: 'no such sku' },
    });
  });
});
