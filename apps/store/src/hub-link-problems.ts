import {
  CloseCode,
  Recovery,
  type CloseCodeName,
  type HubLinkProblemSchema,
  type StopAndAlertCloseCodeName,
} from '@shelfsync/protocol';
import type { z } from 'zod';

/** Why a store's link to its hub is down, as GET /v1/status shows it. */
export type HubLinkProblem = z.infer<typeof HubLinkProblemSchema>;
export type ProblemKind = HubLinkProblem['kind'];

/** How each close that needs a person shows in `problem`; complete by type (the close code table decides which). */
export const STOP_KIND: Readonly<Record<StopAndAlertCloseCodeName, ProblemKind>> = {
  BadRequest: 'protocol-error',
  Unauthorized: 'unauthorized',
  Forbidden: 'forbidden',
  UnsupportedProtocol: 'unsupported-protocol',
  Replaced: 'replaced',
};

export const stopsAndAlerts = (name: CloseCodeName): name is StopAndAlertCloseCodeName =>
  CloseCode[name].recovery === Recovery.StopAndAlert;

/** What a person reads about a close that needs one. */
export function stopDetail(kind: ProblemKind, code: number, reason: string): string {
  const closed = `${code}${reason === '' ? '' : ` (${reason})`}`;
  if (kind === 'replaced') {
    return `another connection with this store's token replaced this one (${closed}): stop the second process for this store, or revoke the token if it is in other hands`;
  }
  if (kind === 'protocol-error') {
    return `the session was closed for breaking the sync protocol (${closed}): a bug on one side or in a proxy between; see the store's and the hub's logs`;
  }
  return `the hub closed the session with ${code} (${reason})`;
}
