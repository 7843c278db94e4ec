import { owedUnderOverride, type StockView } from '../ledger.js';

/**
 * Throws unless a derived view keeps the counter's invariants: Σ rights == value;
 * no negative outstanding reservations; no negative rights, except a store's
 * POS down to its unsettled manager-override deficit (`o` of store:X less `c`
 * of online:X, zero without the override); value and every shelf no lower than
 * the deficits allow.
 */
export function assertSafe(view: StockView): void {
  let sum = 0;
  let allowed = 0;
  for (const account of Object.values(view.accounts)) {
    const allowance = owedUnderOverride(view, account.account);
    if (allowance < 0) throw new Error(`${account.account} has settled more deficit than it ran up`);
    if (account.rights + allowance < 0) {
      throw new Error(`${account.account} has ${account.rights} rights (override allowance ${allowance})`);
    }
    if (account.outstanding < 0) throw new Error(`${account.account} has ${account.outstanding} outstanding`);
    sum += account.rights;
    allowed += allowance;
  }
  if (view.value + allowed < 0) throw new Error(`chain-wide value ${view.value} < -${allowed}`);
  if (sum !== view.value) throw new Error(`Σ rights ${sum} != value ${view.value}`);
  for (const location of Object.values(view.locations)) {
    const allowance = owedUnderOverride(view, `store:${location.location}`);
    if (location.onShelf + allowance < 0) throw new Error(`${location.location} has ${location.onShelf} on shelf`);
  }
  if (view.invalidEntries.length > 0) throw new Error(`invalid entries: ${view.invalidEntries.join(', ')}`);
}
