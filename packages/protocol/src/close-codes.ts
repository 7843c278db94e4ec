import type { Recovery } from './recovery.js';

/** One close code: the number on the wire, the reason sent with it, and what the closed side does about it. */
export interface CloseCodeEntry {
  readonly code: number;
  readonly reason: string;
  readonly recovery: Recovery;
}

/**
 * WebSocket close codes shelfsync uses, named (4xxx is the range RFC 6455 leaves
 * to applications). The second digit group mirrors the closest HTTP status. Every
 * socket shelfsync closes is closed with one of these; each says how the closed
 * side recovers (a code not in this table: retry with backoff).
 */
export const CloseCode = {
  /** Clean shutdown of either side. */
  GoingAway: { code: 1001, reason: 'going away', recovery: 'retry' },
  /**
   * A WebSocket framing violation (reserved opcode or bits, bad masking): the
   * `ws` library closes with it before shelfsync sees the frame.
   */
  // Below shelfsync, a proxy's glitch looks like a peer's bug: retried, and counted for an operator (connection errors).
  ProtocolError: { code: 1002, reason: 'protocol error', recovery: 'retry' },
  /** A text frame or close reason that is not UTF-8 (closed by `ws`, like ProtocolError). */
  InvalidPayload: { code: 1007, reason: 'invalid payload data', recovery: 'retry' },
  /** A message over the receiver's size limit (closed by `ws`, like ProtocolError). */
  MessageTooBig: { code: 1009, reason: 'message too big', recovery: 'retry' },
  /** An unexpected failure, to a standard WebSocket client (a Yjs reader); sync sessions use InternalError. */
  ServerError: { code: 1011, reason: 'internal error', recovery: 'retry' },
  /**
   * The server is at a connection cap (for a document reader: per address or in
   * total); the client may retry later, with backoff.
   */
  TryAgainLater: { code: 1013, reason: 'try again later', recovery: 'retry' },
  /** A frame or control message did not parse, or came before the handshake. */
  // One side speaks the protocol wrongly (a bug, or a forged client): reconnecting repeats it.
  BadRequest: { code: 4400, reason: 'bad request', recovery: 'stop-and-alert' },
  /** The token expired or was revoked during the session. */
  // A new token is an operator's fix: the store retries slowly, and at once when its token file changes.
  Unauthorized: { code: 4401, reason: 'unauthorized', recovery: 'stop-and-alert' },
  /** The handshake names a different store than the token. */
  Forbidden: { code: 4403, reason: 'forbidden', recovery: 'stop-and-alert' },
  /** The peer speaks a protocol version this side does not. */
  UnsupportedProtocol: { code: 4406, reason: 'unsupported protocol version', recovery: 'stop-and-alert' },
  /** No handshake arrived in time. */
  // A slow start or a slow link: the next connection may well make it.
  HandshakeTimeout: { code: 4408, reason: 'handshake timeout', recovery: 'retry' },
  /** A newer connection of the same store replaced this one. */
  // Only a live connection hears it: another process holds this store's token, and taking turns never ends (ADR 0018).
  Replaced: { code: 4409, reason: 'replaced by a newer connection', recovery: 'stop-and-alert' },
  /** The store kept sending updates the hub rejects, or error reports. */
  // Usually one refused or lost change leaves later ones without their base: a new session's catch-up heals it.
  TooManyInvalidUpdates: { code: 4422, reason: 'too many invalid updates', recovery: 'resync' },
  /**
   * The store sent step 1s or top-up requests faster than its session's budget
   * (each costs the hub a document encode or a write-lane job). 4429 is taken by
   * SlowConsumer; 420 is the status rate limiters used before 429. It may reconnect.
   */
  RequestBudgetExceeded: { code: 4420, reason: 'request budget exceeded', recovery: 'retry' },
  /** The peer reads too slowly: its send buffer passed the limit. It may reconnect and catch up. */
  SlowConsumer: { code: 4429, reason: 'slow consumer', recovery: 'retry' },
  /**
   * An operator cut this store's link (POST /v1/admin/stores/:storeId/link): the
   * live session is closed and every reconnection is closed at once with this
   * code until the link is restored, so the store sells from its local quota.
   */
  // Retried: restoring the link is the operator's act, and the store must notice it soon.
  LinkCut: { code: 4503, reason: 'link cut by an operator', recovery: 'retry' },
  /** An unexpected failure on the closing side. */
  // Often passing (one session's failure); a side whose storage failed refuses every session until restarted.
  InternalError: { code: 4500, reason: 'internal error', recovery: 'retry' },
} as const satisfies Readonly<Record<string, CloseCodeEntry>>;
export type CloseCodeName = keyof typeof CloseCode;
/**
 * What a socket is closed with: a code of the table (none made up at a call site),
 * with the table's reason or a more precise one (4401 says which credential failed).
 */
export interface TableCloseCode {
  readonly code: (typeof CloseCode)[CloseCodeName]['code'];
  readonly reason: string;
}

/** The names of the close codes after which the closed side stops and alerts. */
export type StopAndAlertCloseCodeName = {
  [K in CloseCodeName]: (typeof CloseCode)[K]['recovery'] extends 'stop-and-alert' ? K : never;
}[CloseCodeName];

/** The name of a close code, for logs and metrics; undefined for codes shelfsync does not define. */
export function closeCodeName(code: number): CloseCodeName | undefined {
  for (const [name, value] of Object.entries(CloseCode) as [CloseCodeName, CloseCodeEntry][]) {
    if (value.code === code) return name;
  }
  return undefined;
}

/** How to recover from a close with `code`: its class in the table, `retry` for a code shelfsync does not define. */
export function closeRecovery(code: number): Recovery {
  const name = closeCodeName(code);
  return name === undefined ? 'retry' : CloseCode[name].recovery;
}
