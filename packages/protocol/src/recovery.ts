import { z } from 'zod';

/**
 * What a client does about a failure: every error code and every close code has
 * one class (`recoveryByErrorCode`, the `recovery` of each `CloseCode`).
 *
 * - `retry`: the failure passes; try the same again, with backoff (and after
 *   `Retry-After` where the answer has one).
 * - `resync`: this side's state is out of step with the other's; exchange the
 *   difference (a step 1, or a new session, whose catch-up does it), then go on.
 * - `stop-and-alert`: the same request or session fails the same way until a
 *   person changes something; do not retry it in a loop, and tell a person: the
 *   one who asked, for a refusal (no rights, no stock, a wrong request), or an
 *   operator, for a fault (credentials, storage, a bug or an attack).
 */
export const Recovery = {
  Retry: 'retry',
  Resync: 'resync',
  StopAndAlert: 'stop-and-alert',
} as const;
export type Recovery = (typeof Recovery)[keyof typeof Recovery];

export const RecoverySchema = z.enum([Recovery.Retry, Recovery.Resync, Recovery.StopAndAlert]);
