import type { Sku } from '@shelfsync/protocol';
import {
  HELLO_DIRTY_BYTES,
  MAX_HELLO_DIRTY,
  MAX_SKU_LIST,
  SCHEMA_2_PROTOCOL,
  SHARE_PROTOCOL,
  type Hello,
} from './control.js';
import { FrameError, decodeFrame } from './frames.js';

/**
 * The hello's dirty list, within its bounds: the first SKUs that fit, and the
 * count of all of them when that is not every one (the hub budgets the catch-up
 * on it; every dirty SKU is still synced, from the store's own dirty set).
 */
export function helloDirty(dirty: readonly Sku[]): Pick<Hello, 'dirty' | 'dirtyTotal'> {
  const listed: Sku[] = [];
  let bytes = 0;
  for (const sku of dirty) {
    // As JSON: the quotes and the comma (SKUs need no escaping).
    bytes += sku.length + 3;
    if (listed.length === MAX_HELLO_DIRTY || bytes > HELLO_DIRTY_BYTES) break;
    listed.push(sku);
  }
  if (listed.length === dirty.length) return { dirty: listed };
  return { dirty: listed, dirtyTotal: Math.min(dirty.length, MAX_SKU_LIST) };
}

/** A frame from the hub, or why it does not decode. */
export function decodeHubFrame(bytes: Uint8Array): ReturnType<typeof decodeFrame> | string {
  try {
    return decodeFrame(bytes);
  } catch (error) {
    return error instanceof FrameError ? error.message : String(error);
  }
}

/** The hub changes a release was decided on, when it names them. */
export function hubMark(message: {
  client?: number | undefined;
  clock?: number | undefined;
}): { client: number; clock: number } | undefined {
  return message.client === undefined || message.clock === undefined
    ? undefined
    : { client: message.client, clock: message.clock };
}

/**
 * Where a store resumes its catch-up. A cursor kept under a protocol older than
 * SCHEMA_2_PROTOCOL (or before the protocol was kept) counts for nothing once the
 * store reads schema version 2: the hub sent it only version 1's share of each
 * document, and a catch-up from that cursor would never send it the rest. It
 * starts over, as from another epoch: every SKU once, each step 2 bringing what
 * its document lacks.
 */
export function cursorToResume(
  saved: { epoch: string | null; cursor: number; protocol?: number | undefined },
  protocol: number,
): { epoch: string | null; cursor: number } {
  const sharedOnlyVersion1 = saved.protocol === undefined || saved.protocol < SCHEMA_2_PROTOCOL;
  if (protocol >= SCHEMA_2_PROTOCOL && sharedOnlyVersion1) return { epoch: null, cursor: 0 };
  // Likewise a store that held only its share and now holds whole documents.
  const sharedOnlyItsShare = saved.protocol !== undefined && saved.protocol >= SHARE_PROTOCOL;
  if (protocol < SHARE_PROTOCOL && sharedOnlyItsShare) return { epoch: null, cursor: 0 };
  return { epoch: saved.epoch, cursor: saved.cursor };
}
