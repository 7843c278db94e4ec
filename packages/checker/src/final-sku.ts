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

/** What a replica's view says of one location's accounts: their rights and debts. */
export function locationView(
  final: Pick<FinalSku, 'rights' | 'owed'>,
  location: string,
): { rights: Record<string, number>; owed: Record<string, number> } {
  const pick = (record: Readonly<Record<string, number>> | undefined): Record<string, number> =>
    Object.fromEntries(
      Object.entries(record ?? {}).filter(
        ([account]) => account === `store:${location}` || account === `online:${location}`,
      ),
    );
  return { rights: pick(final.rights), owed: pick(final.owed) };
}
