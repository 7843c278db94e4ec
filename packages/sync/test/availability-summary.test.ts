import { computeStock } from '@shelfsync/core';
import { describe, expect, it } from 'vitest';
import { SHARE_PROTOCOL, type Frame } from '../src/index.js';
import { TestHub, type TestStore, sku } from '../src/testing/index.js';
import { connected as connectedAt, receive, release, sell, settled, until } from './support/chain-ops.js';

const connected = (hub: TestHub, id: string, protocol = SHARE_PROTOCOL): Promise<TestStore> =>
  connectedAt(hub, id, protocol);

const MUG = sku('MUG-1');
const TEA = sku('TEA-1');
type Available = Extract<Extract<Frame, { kind: 'control' }>['message'], { type: 'available' }>;
const summaries = (store: TestStore, from = 0): Available[] =>
  store.received
    .slice(from)
    .flatMap((frame) => (frame.kind === 'control' && frame.message.type === 'available' ? [frame.message] : []));

describe('the availability summary (protocol 7)', () => {
  it('tells a follower the units at every other location, coalesced; a holder that follows nothing gets none', async () => {
    // No summary on the hub's timer: every one here is flushed by the test (or answers a follow).
    const hub = await TestHub.create({ summaryEveryMs: 3_600_000 });
    const stores = [await connected(hub, 'A'), await connected(hub, 'B'), await connected(hub, 'C')];
    const [a, b, c] = stores as [TestStore, TestStore, TestStore];
    await a.apply(MUG, receive(a.id, 10));
    await a.apply(MUG, release(a.id, 3));
    await b.apply(MUG, receive(b.id, 7));
    await c.apply(MUG, receive(c.id, 1));
    await c.apply(TEA, receive(c.id, 4));
    await settled(hub, stores);
    b.sync.follow([MUG, TEA]);
    // A's 10 units and C's 1 are elsewhere for B; TEA is all C's. (The answer may come in one
    // message or two, as the follow lands before or during a flush.)
    await until(() => b.sync.chainElsewhere(MUG)?.units === 11 && b.sync.chainElsewhere(TEA)?.units === 4);
    expect(summaries(b).flatMap((summary) => summary.skus)).toEqual(
      expect.arrayContaining([
        ['MUG-1', 11],
        ['TEA-1', 4],
      ]),
    );
    await hub.sync.flushAvailability();

    // Many sales, one flush: one message, one figure per SKU, only what changed.
    for (let i = 0; i < 5; i++) await a.apply(MUG, sell(a.id, 1));
    await settled(hub, stores);
    const mark = b.received.length;
    await hub.sync.flushAvailability();
    await until(() => summaries(b, mark).length === 1);
    expect(summaries(b, mark)).toEqual([{ type: 'available', skus: [['MUG-1', 6]] }]);
    expect((b.sync.chainElsewhere(MUG)?.units ?? NaN) + computeStock(await b.storage.open(MUG)).value).toBe(
      computeStock(await hub.storage.open(MUG)).value,
    );
    // Nothing changed: nothing is sent. C holds MUG but follows nothing: it never got a figure.
    const quiet = b.received.length;
    await hub.sync.flushAvailability();
    expect(summaries(b, quiet)).toEqual([]);
    expect(summaries(c)).toEqual([]);
  });

  it('answers a follow at once, without waiting for the next summary', async () => {
    // A summary period no test waits out: only the follow's own answer can bring the figure.
    const hub = await TestHub.create({ summaryEveryMs: 3_600_000 });
    const [a, b] = [await connected(hub, 'A'), await connected(hub, 'B')];
    await a.apply(MUG, receive(a.id, 8));
    await settled(hub, [a, b]);
    b.sync.follow([MUG]);
    await until(() => b.sync.chainElsewhere(MUG)?.units === 8);
    hub.sync.close();
  });

  it('answers a follow of a SKU the store does not hold, then keeps it told; a whole replica gets none', async () => {
    const hub = await TestHub.create();
    const [a, d, whole] = [await connected(hub, 'A'), await connected(hub, 'D'), await connected(hub, 'W', 6)];
    await a.apply(MUG, receive(a.id, 6));
    await settled(hub, [a, d, whole]);
    d.sync.follow([MUG]);
    await until(async () => {
      await hub.sync.flushAvailability();
      return d.sync.chainElsewhere(MUG)?.units === 6;
    });
    await a.apply(MUG, sell(a.id, 2));
    await settled(hub, [a, d]);
    await hub.sync.flushAvailability();
    await until(() => d.sync.chainElsewhere(MUG)?.units === 4);
    expect(summaries(whole)).toEqual([]);
  });
});
