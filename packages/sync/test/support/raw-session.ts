import type { Sku, StoreId } from '@shelfsync/protocol';
import { expect, vi } from 'vitest';
import {
  PROTOCOL_VERSION,
  STORE_PROTOCOL,
  createTransportPair,
  decodeFrame,
  encodeControlFrame,
  type ControlMessage,
  type Frame,
} from '../../src/index.js';
import type { TestHub } from '../../src/testing/index.js';

/** Resolves once `condition` holds (polled), failing after 10 s. */
export const until = (condition: () => boolean | Promise<boolean>): Promise<void> =>
  vi.waitFor(async () => expect(await condition()).toBe(true), { timeout: 10_000, interval: 2 });

/**
 * A hand-driven store connection, for tests of what the hub does with frames no
 * honest store sends: says hello as `storeId`, waits for the welcome, and
 * records what comes back and how it closes.
 */
export async function rawSession(hub: TestHub, storeId: StoreId, hello: { dirty?: Sku[]; dirtyTotal?: number } = {}) {
  const [storeSide, hubSide] = createTransportPair();
  const received: Frame[] = [];
  let closedWith = 0;
  storeSide.onMessage((bytes) => received.push(decodeFrame(bytes)));
  storeSide.onClose((code) => {
    closedWith = code;
  });
  hub.sync.connect(storeId, hubSide);
  storeSide.send(
    encodeControlFrame({
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      storeId,
      epoch: null,
      cursor: 0,
      dirty: hello.dirty ?? [],
      ...(hello.dirtyTotal === undefined ? {} : { dirtyTotal: hello.dirtyTotal }),
    }),
  );
  await until(() => received.some((f) => f.kind === 'control' && f.message.type === 'welcome'));
  const answered = (type: ControlMessage['type']): number =>
    received.filter((f) => f.kind === 'control' && f.message.type === type).length;
  return {
    send: (frame: Uint8Array) => storeSide.send(frame),
    sendControl: (message: ControlMessage) => storeSide.send(encodeControlFrame(message)),
    received,
    /** Acks and top-up answers: the hub answered a request. */
    acks: (): number => answered('ack') + answered('topup-result'),
    closed: () => closedWith,
  };
}

/** A hub's welcome with nothing changed, for tests that play the hub to a store by hand. */
export const emptyWelcome = (): Uint8Array =>
  encodeControlFrame({
    type: 'welcome',
    protocol: STORE_PROTOCOL,
    epoch: 'e',
    cursor: 0,
    changed: [],
    overrideCap: 0,
  });
