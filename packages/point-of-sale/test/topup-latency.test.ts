import { ErrorCode, SkuSchema } from '@shelfsync/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { PosAnswer } from '../src/index.js';
import { InProcessChain } from '../src/testing/index.js';

/**
 * A connected store never refuses a sale its own shelf can fill: the store's
 * link to the hub delays every frame a fixed time each way (as a WAN, a VPN
 * concentrator or a proxy adds), the store waits for a top-up as long as a
 * store node does by default (250 ms), and sells its whole shelf one unit at a
 * time, then with several tills at once. Every sale must go through. Real time:
 * the delays are real, and so is the allocator's clock.
 */
describe('top-ups over links with latency, in one process', () => {
  let chain: InProcessChain | null = null;
  afterEach(() => chain?.close());

  const open = async (latencyMs: number) => {
    chain = await InProcessChain.open({ clock: 'real', latencyMs });
    return { chain, store: chain.store('north') };
  };

  const refusals = (answers: PosAnswer[]) => answers.filter((a) => a.status !== 201).map((a) => a.body);

  for (const latencyMs of [0, 5, 20, 50]) {
    it(`${latencyMs} ms each way: a shelf of 60 sold one unit at a time, no refusal`, async () => {
      const { chain, store } = await open(latencyMs);
      const sku = SkuSchema.parse(`SHELF-${latencyMs}`);
      // Sold from the state right after the receipt, as a till would: the hub has not split the shelf yet.
      expect((await store.receive(sku, 60)).status).toBe(201);
      const answers: PosAnswer[] = [];
      for (let i = 0; i < 60; i++) answers.push(await store.sell(sku, 1));
      expect(refusals(answers)).toEqual([]);
      // A sale past the till's rights (if the allocator's rebalancing did not keep ahead) waited a round trip.
      for (const ms of store.record.topUpWaits) expect(ms).toBeGreaterThanOrEqual(2 * latencyMs - 1);
      // The shelf is empty and the hub agrees: nothing was sold twice.
      await chain.converged([sku]);
      expect(await store.stock(sku)).toMatchObject({ onShelf: 0, pendingSync: false });
      expect((await chain.hubStock(sku)).value).toBe(0);
      expect(store.record.outcomes.filter((o) => o === 'refused_connected')).toEqual([]);
      // One more sale finds the location empty: refused, and it says so.
      const empty = await store.sell(sku, 1);
      expect(empty.status).toBe(409);
      expect(empty.body).toMatchObject({
        code: ErrorCode.InsufficientRights,
        details: { cause: 'location_empty', hubReachable: true },
      });
      expect(store.record.refusals).toEqual(['location_empty']);
    });
  }

  it('20 ms each way, four tills at once: a shelf of 80 sold with no refusal', async () => {
    const { chain, store } = await open(20);
    const sku = SkuSchema.parse('SHELF-TILLS');
    expect((await store.receive(sku, 80)).status).toBe(201);
    const till = async () => {
      const answers: PosAnswer[] = [];
      for (let i = 0; i < 20; i++) answers.push(await store.sell(sku, 1));
      return answers;
    };
    const answers = (await Promise.all([till(), till(), till(), till()])).flat();
    expect(refusals(answers)).toEqual([]);
    await chain.converged([sku]);
    expect(await store.stock(sku)).toMatchObject({ onShelf: 0, pendingSync: false });
    expect((await chain.hubStock(sku)).value).toBe(0);
  });
});
