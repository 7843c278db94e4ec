import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isConnectionFailure } from '../src/connection-failure.js';
import { TransactionError } from '../src/transaction.js';

const withCode = (message: string, code: string): Error => Object.assign(new Error(message), { code });
const serverError = (code: string): pg.DatabaseError =>
  Object.assign(new pg.DatabaseError('refused', 0, 'error'), { code, severity: 'ERROR' });

describe('isConnectionFailure', () => {
  it('knows a database that is down, cut off or going away', () => {
    expect(isConnectionFailure(withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'))).toBe(true);
    expect(isConnectionFailure(withCode('read ECONNRESET', 'ECONNRESET'))).toBe(true);
    expect(isConnectionFailure(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionFailure(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isConnectionFailure(serverError('57P01'))).toBe(true);
    expect(isConnectionFailure(serverError('08006'))).toBe(true);
    // Wrapped, as a failed transaction wraps what ended it.
    const lost = new Error('Connection terminated unexpectedly');
    expect(isConnectionFailure(new TransactionError('transaction rolled back', 'no', { cause: lost }))).toBe(true);
  });

  it('leaves statements the server refused, and everything else, to the caller', () => {
    expect(isConnectionFailure(serverError('23505'))).toBe(false);
    expect(isConnectionFailure(serverError('40001'))).toBe(false);
    expect(isConnectionFailure(new TypeError('undefined is not a function'))).toBe(false);
    expect(isConnectionFailure('Connection terminated')).toBe(false);
    expect(isConnectionFailure(undefined)).toBe(false);
  });
});
