import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as encoding from 'lib0/encoding';
import {
  FrameError,
  SyncMessageType,
  backoffDelay,
  decodeFrame,
  encodeControlFrame,
  encodeDocFrame,
} from '../src/index.js';

describe('frames', () => {
  it('round-trips DOC frames of every sync message type', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
        fc.nat(),
        fc.constantFrom(SyncMessageType.Step1, SyncMessageType.Step2, SyncMessageType.Update),
        fc.uint8Array({ maxLength: 200 }),
        (sku, ref, type, payload) => {
          expect(decodeFrame(encodeDocFrame(sku, ref, type, payload))).toEqual({
            kind: 'doc',
            sku,
            ref,
            type,
            payload,
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('round-trips control messages', () => {
    const hello = { type: 'hello', protocol: 1, storeId: 'S1', epoch: null, cursor: 3, dirty: ['SKU-1'] } as const;
    expect(decodeFrame(encodeControlFrame(hello as never))).toEqual({ kind: 'control', message: hello });
    const ack = { type: 'ack', ref: 7 } as const;
    expect(decodeFrame(encodeControlFrame(ack))).toEqual({ kind: 'control', message: ack });
  });

  it('refuses malformed frames with a FrameError', () => {
    const control = (json: string): Uint8Array => {
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 1);
      encoding.writeVarString(e, json);
      return encoding.toUint8Array(e);
    };
    const withTrailing = Uint8Array.from([
      ...encodeDocFrame('A', 0, SyncMessageType.Update, new Uint8Array([0, 0])),
      9,
    ]);
    const unknownType = (() => {
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 0);
      encoding.writeVarString(e, 'A');
      encoding.writeVarUint(e, 0);
      encoding.writeVarUint(e, 7);
      encoding.writeVarUint8Array(e, new Uint8Array());
      return encoding.toUint8Array(e);
    })();
    const bad = [
      new Uint8Array(),
      Uint8Array.from([5]),
      withTrailing,
      unknownType,
      encodeDocFrame('A', 0, SyncMessageType.Update, new Uint8Array([1, 2, 3])).slice(0, 4),
      control('not json'),
      control('{"type":"ack","ref":0}'),
      control('{"type":"hello","protocol":1,"storeId":"dc","epoch":null,"cursor":0,"dirty":[]}'),
      control('{"type":"ack","ref":1,"extra":true}'),
    ];
    for (const bytes of bad) expect(() => decodeFrame(bytes), String(bytes)).toThrow(FrameError);
  });

  it('never throws anything but FrameError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeFrame(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(FrameError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('backoff', () => {
  it('stays within [c/2, c] for c = min(max, base * 2^attempt)', () => {
    fc.assert(
      fc.property(fc.nat(60), fc.double({ min: 0, max: 0.999999, noNaN: true }), (attempt, r) => {
        const ceiling = Math.min(10_000, 250 * 2 ** attempt);
        const delay = backoffDelay(attempt, () => r);
        expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
        expect(delay).toBeLessThanOrEqual(ceiling);
      }),
    );
  });
});
