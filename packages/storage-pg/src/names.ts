/** A lower-case SQL identifier that needs no quoting: safe to put into SQL text. */
const identifierPattern = /^[a-z_][a-z0-9_]{0,62}$/;

/** Throws a TypeError unless `name` is a plain lower-case SQL identifier (at most 63 bytes, PostgreSQL's limit). */
export function assertIdentifier(what: string, name: string): void {
  if (!identifierPattern.test(name)) {
    throw new TypeError(
      `invalid ${what} ${JSON.stringify(name)}: use a-z, 0-9 and _, not starting with a digit, at most 63`,
    );
  }
}

/**
 * A namespace separates adapters that share one table (one per hub node's
 * private records, one shared). It follows the identifier rules, so a later
 * schema may turn it into a table name prefix without renaming anything.
 */
export function assertNamespace(namespace: string): void {
  assertIdentifier('storage namespace', namespace);
}
