import * as decoding from 'lib0/decoding';
import * as Y from 'yjs';

/** An update as Yjs decodes it: its structs, then its delete set. */
export interface DecodedUpdate {
  readonly structs: (Y.Item | Y.GC | Y.Skip)[];
  readonly ds: { clients: Map<number, { clock: number; len: number }[]> };
}

/** Why a decoded update is still not one the hub may apply. */
export type StrictDecodeFault = 'trailing-bytes' | 'forbidden-key';

/** Object keys no value may hold: lib0 assigns them with `obj[key] =`, which sets the prototype instead of a key. */
const FORBIDDEN_KEY = '__proto__';

/**
 * Decodes a v1 update as Yjs does, and also reports what Yjs lets pass: bytes
 * after the delete set (Yjs stops reading there and applies the prefix) and an
 * object key `__proto__` in a JSON value (Yjs' decoder turns it into the
 * object's prototype, so no schema that reads own keys ever sees it). Throws
 * when the bytes do not decode.
 */
export function decodeStrict(update: Uint8Array): { decoded: DecodedUpdate; fault: StrictDecodeFault | null } {
  current = { rest: null, forbidden: false };
  const decoded: DecodedUpdate = Y.decodeUpdateV2(update, StrictDecoder);
  const { rest, forbidden } = current;
  const fault = forbidden ? 'forbidden-key' : rest?.pos !== update.byteLength ? 'trailing-bytes' : null;
  return { decoded, fault };
}

/** What the current decodeStrict call has read (decoding is synchronous: one call at a time). */
let current: { rest: decoding.Decoder | null; forbidden: boolean } = { rest: null, forbidden: false };

/** Yjs' v1 decoder, reading JSON values with readAny below. One class for every call, so call sites stay monomorphic. */
class StrictDecoder extends Y.UpdateDecoderV1 {
  constructor(decoder: decoding.Decoder) {
    super(decoder);
    current.rest = decoder;
  }

  override readAny(): unknown {
    return readAny(this.restDecoder, onForbidden);
  }
}

function onForbidden(): void {
  current.forbidden = true;
}

/**
 * lib0's `readAny`, value for value, except that an object key `__proto__`
 * calls `onForbidden` and is left out instead of replacing the prototype.
 */
function readAny(decoder: decoding.Decoder, onForbidden: () => void): unknown {
  const tag = decoding.readUint8(decoder);
  switch (tag) {
    case 127:
      return undefined;
    case 126:
      return null;
    case 125:
      return decoding.readVarInt(decoder);
    case 124:
      return decoding.readFloat32(decoder);
    case 123:
      return decoding.readFloat64(decoder);
    case 122:
      return decoding.readBigInt64(decoder);
    case 121:
      return false;
    case 120:
      return true;
    case 119:
      return decoding.readVarString(decoder);
    case 118: {
      const length = decoding.readVarUint(decoder);
      const object: Record<string, unknown> = {};
      for (let i = 0; i < length; i++) {
        const key = decoding.readVarString(decoder);
        const value = readAny(decoder, onForbidden);
        if (key === FORBIDDEN_KEY) onForbidden();
        else object[key] = value;
      }
      return object;
    }
    case 117: {
      const length = decoding.readVarUint(decoder);
      const array: unknown[] = [];
      for (let i = 0; i < length; i++) array.push(readAny(decoder, onForbidden));
      return array;
    }
    case 116:
      return decoding.readVarUint8Array(decoder);
    default:
      throw new Error(`unknown value tag ${tag}`);
  }
}
