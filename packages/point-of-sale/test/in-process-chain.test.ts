import { SkuSchema } from '@shelfsync/protocol';
import { describe, expect, it } from 'vitest';
import { InProcessChain, Links } from '../src/testing/index.js';

const MUG = SkuSchema.parse('MUG-1');

describe('the in-process chain harness', () => {
  it('a slow link delivers every frame no sooner than its latency, in order, and settle waits for them', async () => {
    const links = new Links();
    const [a, b] = links.pair(20);
    const got: { n: number; ms: number }[] = [];
    const sentAt = performance.now();
    b.onMessage((frame) => got.push({ n: frame[0] ?? -1, ms: performance.now() - sentAt }));
    for (let n = 0; n < 5; n++) a.send(new Uint8Array([n]));
    expect(links.inFlight).toBe(5);
    await links.settle();
    expect(links.inFlight).toBe(0);
    expect(got.map((g) => g.n)).toEqual([0, 1, 2, 3, 4]);
    for (const { ms } of got) expect(ms).toBeGreaterThanOrEqual(19);
  });

  it('a cut store is refused until restored; a stopped hub comes back with what it stored, and its stores with it', async () => {
    const chain = await InProcessChain.open({ escrow: 'off', stores: ['north', 'south'] });
    const north = chain.store('north');
    expect((await north.receive(MUG, 5)).status).toBe(201);
    await chain.converged([MUG]);

    expect(chain.cut('north')).toBe(true);
    await chain.settle();
    chain.connect('north');
    await chain.settle();
    expect(north.status().connected).toBe(false);
    expect((await north.sell(MUG, 2)).status).toBe(201);
    await chain.settle();
    expect((await chain.hubStock(MUG)).value).toBe(5);
    expect(chain.restore('north')).toBe(true);
    await chain.converged([MUG]);
    expect(north.status()).toMatchObject({ connected: true, caughtUp: true, pendingSync: 0 });
    expect((await chain.hubStock(MUG)).value).toBe(3);

    await chain.restartHub();
    expect(chain.hubRunning).toBe(true);
    await chain.converged([MUG]);
    expect((await chain.hubStock(MUG)).value).toBe(3);
    // South holds its share: the chain's figure comes from the hub's summary once its console asks.
    await chain.store('south').stock(MUG);
    await chain.flushAvailability();
    expect(await chain.store('south').stock(MUG)).toMatchObject({ available: 3, hubConnected: true });
    chain.close();
  });

  it('runs on a virtual clock that only the test moves', async () => {
    const chain = await InProcessChain.open({ stores: [] });
    const start = chain.now();
    expect(chain.now()).toBe(start);
    expect(await chain.advance(60_000)).toBe(0);
    expect(chain.now()).toBe(start + 60_000);
    chain.close();
    const real = await InProcessChain.open({ clock: 'real', stores: [] });
    expect(real.clock).toBeNull();
    await expect(real.advance(1)).rejects.toThrow('real time');
    real.close();
  });
});
