import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import { ControlMessageSchema, type ControlMessage } from './control.js';

/**
 * Every frame on a store's socket is one of two kinds:
 * - DOC: a y-protocols sync message (step 1, step 2 or update, byte for byte as
 *   y-websocket sends them) wrapped in an envelope naming the SKU document, plus
 *   a number `ref`: from a store, the reference the hub acknowledges (0: none
 *   wanted); from the hub, the change number of a relayed update (0: not a
 *   change, e.g. an answer during catch-up);
 * - CONTROL: a JSON control message, validated by `ControlMessageSchema`.
 */
export const FrameKind = { Doc: 0, Control: 1 } as const;

/** The y-protocols sync message types. */
export const SyncMessageType = {
  Step1: syncProtocol.messageYjsSyncStep1,
  Step2: syncProtocol.messageYjsSyncStep2,
  Update: syncProtocol.messageYjsUpdate,
} as const;
export type SyncMessageType = (typeof SyncMessageType)[keyof typeof SyncMessageType];

/** A decoded DOC frame. `payload` is a state vector for step 1, a Yjs update otherwise. */
export interface DocFrame {
  readonly kind: 'doc';
  readonly sku: string;
  readonly ref: number;
  readonly type: SyncMessageType;
  readonly payload: Uint8Array;
}

export interface ControlFrame {
  readonly kind: 'control';
  readonly message: ControlMessage;
}

export type Frame = DocFrame | ControlFrame;

/** Encodes a DOC frame. */
export function encodeDocFrame(sku: string, ref: number, type: SyncMessageType, payload: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, FrameKind.Doc);
  encoding.writeVarString(encoder, sku);
  encoding.writeVarUint(encoder, ref);
  // y-protocols' own layout: message type, then the length-prefixed payload.
  encoding.writeVarUint(encoder, type);
  encoding.writeVarUint8Array(encoder, payload);
  return encoding.toUint8Array(encoder);
}

/** Encodes a CONTROL frame. */
export function encodeControlFrame(message: ControlMessage): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, FrameKind.Control);
  encoding.writeVarString(encoder, JSON.stringify(message));
  return encoding.toUint8Array(encoder);
}

/** Why a frame could not be decoded. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/** Decodes one frame; throws `FrameError` for anything malformed, including trailing bytes. */
export function decodeFrame(bytes: Uint8Array): Frame {
  try {
    const decoder = decoding.createDecoder(bytes);
    const kind = decoding.readVarUint(decoder);
    let frame: Frame;
    if (kind === FrameKind.Doc) {
      const sku = decoding.readVarString(decoder);
      const ref = decoding.readVarUint(decoder);
      const type = decoding.readVarUint(decoder);
      if (type !== SyncMessageType.Step1 && type !== SyncMessageType.Step2 && type !== SyncMessageType.Update) {
        throw new FrameError(`unknown sync message type ${type}`);
      }
      const payload = decoding.readVarUint8Array(decoder);
      frame = { kind: 'doc', sku, ref, type, payload };
    } else if (kind === FrameKind.Control) {
      const parsed = ControlMessageSchema.safeParse(JSON.parse(decoding.readVarString(decoder)));
      if (!parsed.success)
        throw new FrameError(`invalid control message: ${parsed.error.issues[0]?.message ?? 'unknown'}`);
      frame = { kind: 'control', message: parsed.data };
    } else {
      throw new FrameError(`unknown frame kind ${kind}`);
    }
    if (decoding.hasContent(decoder)) throw new FrameError('trailing bytes after frame');
    return frame;
  } catch (error) {
    if (error instanceof FrameError) throw error;
    throw new FrameError(`malformed frame: ${error instanceof Error ? error.message : String(error)}`);
  }
}
