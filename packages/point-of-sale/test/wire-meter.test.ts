import { SkuSchema } from '@shelfsync/protocol';
import type { Transport } from '@shelfsync/sync';
import { describe, expect, it, vi } from 'vitest';
import { InProcessChain, Links, addWire, wireSince, type LinkTraffic } from '../src/testing/index.js';

const MUG = SkuSchema.parse('MUG-1');

const frame = (length: number, fill = 7): Uint8Array => new Uint8Array(length).fill(fill);

/** Counts what one end sends, apart from the meter: a transport wrapper, as a socket's byte counter would be. */
function counting(inner: Transport, into: { bytes: number; frames: number }): Transport {
  return {
    send: (bytes) => {
      into.bytes += bytes.byteLength;
      into.frames++;
      inner.send(bytes);
    },
    close: (code, reason) => inner.close(code, reason),
    get bufferedAmount() {
      return inner.bufferedAmount;
    },
    onMessage: (handler) => inner.onMessage(handler),
    onClose: (handler) => inner.onClose(handler),
  };
}

describe('the byte meter on the chain’s links', () => {
  it('counts each frame’s bytes once, at send, per label and direction, as the far end receives them', async () => {
    const links = new Links();
    const [store, hub] = links.pair(0, 'north');
    const received = { up: 0, down: 0 };
    hub.onMessage((bytes) => (received.up += bytes.byteLength));
    store.onMessage((bytes) => (received.down += bytes.byteLength));
    // Sizes that cross varint and buffer boundaries, and an empty frame (still a frame).
    for (const length of [1, 127, 128, 0, 16_385]) store.send(frame(length));
    hub.send(frame(3));
    hub.send(frame(40));
    // Counted when sent, before delivery.
    expect(links.traffic().get('north')).toEqual({
      up: { bytes: 16_641, frames: 5 },
      down: { bytes: 43, frames: 2 },
    });
    await links.settle();
    expect(received).toEqual({ up: 16_641, down: 43 });

    // A snapshot is a copy: later frames move the meter, not the snapshot; `wireSince` gives what came between.
    const before = links.traffic();
    store.send(frame(10));
    expect(before.get('north')?.up).toEqual({ bytes: 16_641, frames: 5 });
    expect(wireSince(links.traffic(), before).get('north')).toEqual({
      up: { bytes: 10, frames: 1 },
      down: { bytes: 0, frames: 0 },
    });

    // A second link under the same label (a reconnection) adds to its counts; another label counts apart.
    // (Each far end takes its frames: the links are quiet once every frame is delivered.)
    const open = (...link: [Transport, Transport]): Transport => {
      link[1].onMessage(() => {});
      return link[0];
    };
    open(...links.pair(0, 'north')).send(frame(5));
    open(...links.pair(0, 'south')).send(frame(9));
    // An unlabelled link still counts, under a name of its own.
    open(...links.pair()).send(frame(2));
    await links.settle();
    const after = wireSince(links.traffic(), before);
    expect(after.get('north')?.up).toEqual({ bytes: 15, frames: 2 });
    expect(after.get('south')).toEqual({ up: { bytes: 9, frames: 1 }, down: { bytes: 0, frames: 0 } });
    expect([...after.keys()]).toHaveLength(3);
    expect(addWire(...[...after.values()].map((link) => link.up))).toEqual({ bytes: 26, frames: 4 });
  });

  it('delayed links are counted at send, not at delivery', async () => {
    const links = new Links();
    const [store, hub] = links.pair(20, 'north');
    let arrived = 0;
    hub.onMessage(() => arrived++);
    store.send(frame(50));
    expect(arrived).toBe(0);
    expect(links.traffic().get('north')?.up).toEqual({ bytes: 50, frames: 1 });
    await links.settle();
    expect(arrived).toBe(1);
    expect(links.traffic().get('north')?.up).toEqual({ bytes: 50, frames: 1 });
  });

  it('in a running chain, `wire` matches a byte counter on every store’s link, each way, over receipts, sales and relays', async () => {
    const chain = await InProcessChain.open({ stores: [], connect: false });
    // Every link the chain makes is wrapped, on both ends, by a counter of its own.
    const counted = new Map<
      string,
      { up: { bytes: number; frames: number }; down: { bytes: number; frames: number } }
    >();
    const pair = chain.links.pair.bind(chain.links);
    vi.spyOn(chain.links, 'pair').mockImplementation((latencyMs, label = '') => {
      const [store, hub] = pair(latencyMs, label);
      const counts = counted.get(label) ?? { up: { bytes: 0, frames: 0 }, down: { bytes: 0, frames: 0 } };
      counted.set(label, counts);
      return [counting(store, counts.up), counting(hub, counts.down)];
    });
    const north = await chain.addStore({ id: 'north' });
    const south = await chain.addStore({ id: 'south' });
    const snapshot = (): Map<string, LinkTraffic> =>
      new Map([...counted].map(([label, { up, down }]) => [label, { up: { ...up }, down: { ...down } }]));

    expect((await north.receive(MUG, 20)).status).toBe(201);
    expect((await south.receive(MUG, 5)).status).toBe(201);
    await chain.settle();
    const before = chain.wire();
    const countedBefore = snapshot();
    for (let i = 0; i < 3; i++) expect((await north.sell(MUG, 1)).status).toBe(201);
    // A reconnection: the store's counts go on under its id.
    chain.disconnect('south');
    await chain.settle();
    chain.connect('south');
    await chain.converged([MUG]);

    expect(chain.wire()).toEqual(snapshot());
    expect([...chain.wire().keys()]).toEqual(['north', 'south']);
    const sales = chain.wire(before);
    expect(sales).toEqual(wireSince(snapshot(), countedBefore));
    // The sales went up from north, and reached south.
    expect(sales.get('north')?.up.frames).toBeGreaterThanOrEqual(3);
    expect(sales.get('south')?.down.bytes).toBeGreaterThan(0);
    chain.close();
  });
});
