import { ErrorCode, type Result } from '@shelfsync/protocol';

/** How a sale or ship-out ended, as the store's metrics count it. */
export type SaleOutcome =
  'local' | 'topped_up' | 'override' | 'refused_offline' | 'refused_connected' | 'refused_override_cap' | 'invalid';

/**
 * Classifies a sale's result: served from the store's own rights, after asking
 * the hub, or under the manager override; refused with or without the hub, at the
 * override's cap, or invalid.
 */
export function saleOutcome(result: Result<unknown>, askedHub: boolean, overridden: number): SaleOutcome {
  if (result.ok) return overridden > 0 ? 'override' : askedHub ? 'topped_up' : 'local';
  if (result.error.code === ErrorCode.OverrideCapExceeded) return 'refused_override_cap';
  if (result.error.code !== ErrorCode.InsufficientRights) return 'invalid';
  return askedHub ? 'refused_connected' : 'refused_offline';
}
