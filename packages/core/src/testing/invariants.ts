import type { StockView } from '../ledger.js';

/** Throws unless a derived view keeps the counter's invariants: no negative rights, value or shelf, and Σ rights == value. */
export function assertSafe(view: StockView): void {
  let sum = 0;
  for (const account of Object.values(view.accounts)) {
    if (account.rights < 0) throw new Error(`${account.account} has ${account.rights} rights`);
    if (account.outstanding < 0) throw new Error(`${account.account} has ${account.outstanding} outstanding`);
    sum += account.rights;
  }
  if (view.value < 0) throw new Error(`chain-wide value ${view.value} < 0`);
  if (sum !== view.value) throw new Error(`Σ rights ${sum} != value ${view.value}`);
  for (const location of Object.values(view.locations)) {
    if (location.onShelf < 0) throw new Error(`${location.location} has ${location.onShelf} on shelf`);
  }
  if (view.invalidEntries.length > 0) throw new Error(`invalid entries: ${view.invalidEntries.join(', ')}`);
}
