/**
 * WebSocket close codes shelfsync uses, named (4xxx is the range RFC 6455 leaves
 * to applications). The second digit group mirrors the closest HTTP status.
 */
export const CloseCode = {
  /** Clean shutdown of either side. */
  GoingAway: { code: 1001, reason: 'going away' },
  /**
   * A WebSocket framing violation (reserved opcode or bits, bad masking): the
   * `ws` library closes with it before shelfsync sees the frame.
   */
  ProtocolError: { code: 1002, reason: 'protocol error' },
  /** A text frame or close reason that is not UTF-8 (closed by `ws`, like ProtocolError). */
  InvalidPayload: { code: 1007, reason: 'invalid payload data' },
  /** A message over the receiver's size limit (closed by `ws`, like ProtocolError). */
  MessageTooBig: { code: 1009, reason: 'message too big' },
  /** An unexpected failure, to a standard WebSocket client (a Yjs reader); sync sessions use InternalError. */
  ServerError: { code: 1011, reason: 'internal error' },
  /**
   * The server is at a connection cap (for a document reader: per address or in
   * total); the client may retry later, with backoff.
   */
  TryAgainLater: { code: 1013, reason: 'try again later' },
  /** A frame or control message did not parse, or came before the handshake. */
  BadRequest: { code: 4400, reason: 'bad request' },
  /** The token expired or was revoked during the session. */
  Unauthorized: { code: 4401, reason: 'unauthorized' },
  /** The handshake names a different store than the token. */
  Forbidden: { code: 4403, reason: 'forbidden' },
  /** The peer speaks a protocol version this side does not. */
  UnsupportedProtocol: { code: 4406, reason: 'unsupported protocol version' },
  /** No handshake arrived in time. */
  HandshakeTimeout: { code: 4408, reason: 'handshake timeout' },
  /** A newer connection of the same store replaced this one. */
  Replaced: { code: 4409, reason: 'replaced by a newer connection' },
  /** The store kept sending updates the hub rejects. */
  TooManyInvalidUpdates: { code: 4422, reason: 'too many invalid updates' },
  /** The peer reads too slowly: its send buffer passed the limit. It may reconnect and catch up. */
  SlowConsumer: { code: 4429, reason: 'slow consumer' },
  /**
   * An operator cut this store's link (POST /v1/admin/stores/:storeId/link): the
   * live session is closed and every reconnection is closed at once with this
   * code until the link is restored, so the store sells from its local quota.
   */
  LinkCut: { code: 4503, reason: 'link cut by an operator' },
  /** An unexpected failure on the closing side. */
  InternalError: { code: 4500, reason: 'internal error' },
} as const;
export type CloseCodeName = keyof typeof CloseCode;

/** The name of a close code, for logs and metrics; undefined for codes shelfsync does not define. */
export function closeCodeName(code: number): CloseCodeName | undefined {
  for (const [name, value] of Object.entries(CloseCode) as [CloseCodeName, { code: number }][]) {
    if (value.code === code) return name;
  }
  return undefined;
}
