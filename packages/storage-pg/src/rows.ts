/** A row as pg hands it over: typed by nobody, so every column is checked before use. */
export type Row = Readonly<Record<string, unknown>>;

/**
 * A bytea column as a fresh Uint8Array. pg parses bytea into a Buffer; the copy
 * is a plain Uint8Array the caller owns (a Buffer may share a pooled slab).
 */
export function bytesColumn(row: Row, column: string): Uint8Array {
  const value = row[column];
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`expected bytes in column ${column}, got ${value === null ? 'null' : typeof value}`);
  }
  return new Uint8Array(value);
}
