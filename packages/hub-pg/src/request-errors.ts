/** The shard owner's handler threw (or its answer could not be stored): `message` is what it said. */
export class RequestFailed extends Error {
  constructor(
    readonly id: string,
    message: string,
  ) {
    super(message);
    this.name = 'RequestFailed';
  }
}

/**
 * No answer came in time. `withdrawn`: the request was deleted before any
 * owner claimed it, so it will not run (unless asked again). Otherwise an
 * owner claimed it, or whether one did is unknown (the database could not be
 * reached): it may still complete, and asking again with the same id returns
 * its answer.
 */
export class RequestTimedOut extends Error {
  constructor(
    readonly id: string,
    readonly timeoutMs: number,
    readonly withdrawn: boolean,
  ) {
    super(
      withdrawn
        ? `no owner claimed request ${id} within ${timeoutMs} ms: it was withdrawn and will not run`
        : `request ${id} got no answer within ${timeoutMs} ms; it was not withdrawn and may still complete`,
    );
    this.name = 'RequestTimedOut';
  }
}
