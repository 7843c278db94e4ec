import type { FinalSku } from './check.js';

/**
 * A replica's ledger (`GET /v1/skus/:sku/ledger`, read as JSON) cut to what the
 * checker compares: the totals, the rights, and the state vector, debts and
 * share where the ledger has them.
 */
export function finalSkuOf(ledger: FinalSku): FinalSku {
  const { added, committed, value, rights, stateVector, owed, share } = ledger;
  return {
    added,
    committed,
    value,
    rights,
    ...(stateVector === undefined ? {} : { stateVector }),
    ...(owed === undefined ? {} : { owed }),
    ...(share === undefined ? {} : { share }),
  };
}
