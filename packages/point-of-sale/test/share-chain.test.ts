import { SkuSchema } from '@shelfsync/protocol';
import { SHARE_PROTOCOL } from '@shelfsync/sync';
import { describe, expect, it } from 'vitest';
import { InProcessChain } from '../src/testing/index.js';

const sku = (value: string) => SkuSchema.parse(value);

describe('stores that hold only their share (protocol 7), in one process', () => {
  it("show the chain's available units from the hub's summary, their own sales at once, and hold none of the others' entries", async () => {
    const chain = await InProcessChain.open({
      escrow: 'off',
      stores: ['north', 'south', 'east'],
      protocol: SHARE_PROTOCOL,
    });
    const MUG = sku('MUG-1');
    const [north, south, east] = [chain.store('north'), chain.store('south'), chain.store('east')];
    expect((await north.receive(MUG, 10)).status).toBe(201);
    expect((await south.receive(MUG, 5)).status).toBe(201);
    await chain.converged([MUG]);
    // Before any summary, south counts its own location only, and says so.
    expect(await south.stock(MUG)).toMatchObject({ available: 5 });
    expect(south.sync.chainElsewhere(MUG)).toBeUndefined();

    await chain.flushAvailability();
    expect(await south.stock(MUG)).toMatchObject({ available: 15 });
    // East holds nothing of MUG: it follows it once its console shows it.
    await east.stock(MUG);
    await chain.flushAvailability();
    expect(await east.stock(MUG)).toMatchObject({ available: 15 });

    // South's own sale shows at once; north's reaches it with the next summary.
    expect((await south.sell(MUG, 2)).body).toMatchObject({ available: 13 });
    expect((await north.sell(MUG, 4)).status).toBe(201);
    await chain.flushAvailability();
    expect(await south.stock(MUG)).toMatchObject({ available: 9 });
    expect(await east.stock(MUG)).toMatchObject({ available: 9 });
    expect((await chain.hubStock(MUG)).value).toBe(9);

    await chain.converged([MUG]);
    const accounts = Object.keys((await south.view(MUG)).accounts);
    expect(accounts.every((account) => account.endsWith(':south'))).toBe(true);
    chain.close();
  });
});
