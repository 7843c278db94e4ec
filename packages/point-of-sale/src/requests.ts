import type { Operation } from '@shelfsync/core';
import {
  ErrorCode,
  ShelfsyncFailure,
  shelfsyncError,
  storeAccount,
  type AdjustmentRequest,
  type OperationResponse,
  type SaleRequest,
  type Sku,
  type StockMovementRequest,
  type StoreId,
  type TransferInRequest,
  type TransferOutRequest,
} from '@shelfsync/protocol';

/**
 * One POS request as the service runs it: the operation on the store's own
 * account, the quantity the answer names, and whether the manager override may
 * apply. It is also what an idempotency key's fingerprint covers.
 */
export interface PosRequest {
  readonly sku: Sku;
  readonly operation: Operation;
  readonly quantity: number;
  readonly name: OperationResponse['operation'];
  readonly override?: boolean;
}

/** The POS requests of one store, built from its parsed API bodies. */
export function posRequests(storeId: StoreId) {
  const own = storeAccount(storeId);
  return {
    receipt: ({ sku, quantity }: StockMovementRequest): PosRequest => ({
      sku,
      quantity,
      name: 'receive',
      operation: { type: 'receive', account: own, quantity },
    }),
    /** `override: true` is the manager's: the caller checks the manager's credentials first. */
    sale: ({ sku, quantity, override }: SaleRequest): PosRequest => ({
      sku,
      quantity,
      name: 'sell',
      operation: { type: 'sell', account: own, quantity },
      ...(override === undefined ? {} : { override }),
    }),
    return: ({ sku, quantity }: StockMovementRequest): PosRequest => ({
      sku,
      quantity,
      name: 'return',
      operation: { type: 'return', account: own, quantity },
    }),
    count: ({ sku, counted }: AdjustmentRequest): PosRequest => ({
      sku,
      quantity: counted,
      name: 'count',
      operation: { type: 'count', account: own, counted },
    }),
    shipOut: ({ sku, quantity, toStore }: TransferOutRequest): PosRequest => {
      if (toStore === storeId) {
        throw new ShelfsyncFailure(shelfsyncError(ErrorCode.ValidationFailed, 'a store cannot ship to itself'));
      }
      return { sku, quantity, name: 'shipOut', operation: { type: 'shipOut', account: own, quantity } };
    },
    receiveTransfer: ({ sku, quantity }: TransferInRequest): PosRequest => ({
      sku,
      quantity,
      name: 'receiveTransfer',
      operation: { type: 'receiveTransfer', account: own, quantity },
    }),
  };
}
