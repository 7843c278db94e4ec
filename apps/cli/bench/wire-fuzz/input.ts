/** What one fuzz input is: bytes for one TCP connection, and what the runner may expect of the answer. */

/** The input classes; each has its own generator and its own counters. */
export const FUZZ_CLASSES = ['request-line', 'header-block', 'upgrade', 'ws-frame', 'sync-frame'] as const;
export type FuzzClass = (typeof FUZZ_CLASSES)[number];

export type FuzzTarget = 'hub' | 'store';

export interface FuzzInput {
  readonly index: number;
  readonly cls: FuzzClass;
  /** What the generator did, e.g. `bad-version` or `close-invalid-code`: for counters and failure reports. */
  readonly kind: string;
  readonly target: FuzzTarget;
  /** The HTTP request (an upgrade handshake for the WebSocket classes), sent at once. */
  readonly request: Uint8Array;
  /** WebSocket frames sent after a 101, as one write; the runner adds a ping and waits for its pong. */
  readonly frames: readonly Uint8Array[];
  /** Half-close after writing: most inputs do, so the server need not wait for a timeout to answer. */
  readonly end: boolean;
  /** A request any server must answer without a 5xx. */
  readonly wellFormed: boolean;
}

/** Settings the generators need that are not random: the credentials an authenticated peer uses. */
export interface FuzzContext {
  /** Stores the hub accepts (id and a token signed for it); none of them is the honest store. */
  readonly peers: readonly { readonly storeId: string; readonly token: string }[];
}

/** Latin-1 bytes of a string: every char code below 256 becomes that byte, so generators can write any octet. */
export function latin1(text: string): Uint8Array {
  return Buffer.from(text, 'latin1');
}

export function utf8(text: string): Uint8Array {
  return Buffer.from(text, 'utf8');
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/** A short printable preview of bytes, for failure reports. */
export function preview(bytes: Uint8Array, max = 160): string {
  let out = '';
  for (const b of bytes.subarray(0, max)) {
    out +=
      b === 0x0d
        ? '\\r'
        : b === 0x0a
          ? '\\n'
          : b >= 0x20 && b < 0x7f
            ? String.fromCharCode(b)
            : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return bytes.length > max ? `${out}... (${bytes.length} B)` : out;
}
