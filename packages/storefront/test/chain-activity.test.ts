import { applyOperation } from '@shelfsync/core';
import {
  ChainSummarySchema,
  SkuSchema,
  StoreIdSchema,
  storeAccount,
  storeWriter,
  type RefusalCause,
  type Sku,
} from '@shelfsync/protocol';
import type { HubSyncEvent } from '@shelfsync/sync';
import { describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { ChainActivity } from '../src/chain-activity.js';

const MINUTE = 60_000;
/** A minute boundary plus 30 s, so "now" sits mid-minute. */
const NOW = 28_333_333 * MINUTE + 30_000;
const MUG = SkuSchema.parse('MUG-1');
const NEW = SkuSchema.parse('NEW-1');
const NORTH = StoreIdSchema.parse('north');
const SOUTH = StoreIdSchema.parse('south');
/** The warnings are not what these tests look at. */
const quiet = { warn: () => {} };

/** The hub's documents: MUG holds 30 units at north; NEW is a SKU the hub never received. */
function hubDocuments() {
  const mug = new Y.Doc();
  applyOperation(mug, storeWriter(NORTH), { type: 'receive', account: storeAccount(NORTH), quantity: 30 });
  const docs = new Map<Sku, Y.Doc>([[MUG, mug]]);
  return {
    opened: [] as Sku[],
    open(sku: Sku): Promise<Y.Doc> {
      this.opened.push(sku);
      return Promise.resolve(docs.get(sku) ?? new Y.Doc());
    },
    changeOf: (sku: Sku) => (docs.has(sku) ? { seq: 1 } : undefined),
  };
}

const refused = (
  cause: RefusalCause,
  fields: Partial<{ sku: Sku; quantity: number; at: number; chainAvailable: number | null }> = {},
): HubSyncEvent => ({
  type: 'refused',
  storeId: SOUTH,
  sku: MUG,
  quantity: 2,
  cause,
  at: NOW,
  chainAvailable: null,
  ...fields,
});

const lastMinute = (activity: ChainActivity) => activity.summary().minutes.at(-1)?.refused;

describe('chain activity: refusals as the stores report them', () => {
  it('counts reports by cause in the minute the store refused; escrowHeld keeps its name for online_escrow', () => {
    const activity = new ChainActivity(hubDocuments(), quiet, () => NOW);
    activity.onSyncEvent(refused('location_empty'));
    activity.onSyncEvent(refused('hub_unreachable'));
    activity.onSyncEvent(refused('hub_unreachable', { at: NOW - 3 * MINUTE }));
    activity.onSyncEvent(refused('online_escrow'));
    activity.onSyncEvent(refused('topup_timeout'));
    const minutes = activity.summary().minutes;
    expect(minutes).toHaveLength(30);
    expect(minutes.at(-1)?.refused).toEqual({ locationEmpty: 1, escrowHeld: 1, hubUnreachable: 1, topUpTimeout: 1 });
    expect(minutes.at(-4)?.refused).toEqual({ locationEmpty: 0, escrowHeld: 0, hubUnreachable: 1, topUpTimeout: 0 });
    expect(ChainSummarySchema.safeParse(activity.summary()).success).toBe(true);
  });

  it("a report from before the window counts in the window's first minute, never lost", () => {
    const activity = new ChainActivity(hubDocuments(), quiet, () => NOW);
    activity.onSyncEvent(refused('hub_unreachable', { at: NOW - 30 * MINUTE }));
    const minutes = activity.summary().minutes;
    expect(minutes[0]?.refused.hubUnreachable).toBe(1);
    expect(minutes.reduce((n, m) => n + m.refused.hubUnreachable, 0)).toBe(1);
  });

  it('other sync events count no refusal', () => {
    const activity = new ChainActivity(hubDocuments(), quiet, () => NOW);
    activity.onSyncEvent({ type: 'refusal-report-dropped', storeId: SOUTH });
    activity.onSyncEvent({ type: 'budget-exceeded', storeId: SOUTH, budget: 'topup' });
    expect(lastMinute(activity)).toEqual({ locationEmpty: 0, escrowHeld: 0, hubUnreachable: 0, topUpTimeout: 0 });
  });

  it("judges the chain's stock on the hub's own document, not the store's figure", async () => {
    const activity = new ChainActivity(hubDocuments(), quiet, () => NOW);
    // 40 wanted, 30 in the chain: not a refusal "while the chain had stock", whatever the store says.
    activity.onSyncEvent(refused('online_escrow', { quantity: 40, chainAvailable: 1_000 }));
    // The store claims far more, or nothing: the hub's document holds 30. (Reports are read in order.)
    activity.onSyncEvent(refused('location_empty', { chainAvailable: 1_000 }));
    activity.onSyncEvent(refused('hub_unreachable', { chainAvailable: 0, at: NOW - MINUTE }));
    await vi.waitFor(() => expect(activity.summary().refusedWithChainStock).toHaveLength(2));
    expect(activity.summary().refusedWithChainStock).toEqual([
      {
        sku: MUG,
        storeId: SOUTH,
        at: new Date(NOW).toISOString(),
        requested: 2,
        chainAvailable: 30,
        cause: 'location_empty',
      },
      {
        sku: MUG,
        storeId: SOUTH,
        at: new Date(NOW - MINUTE).toISOString(),
        requested: 2,
        chainAvailable: 30,
        cause: 'hub_unreachable',
      },
    ]);
  });

  it("takes the store's figure for a SKU the hub never received, without creating its document", () => {
    const documents = hubDocuments();
    const activity = new ChainActivity(documents, quiet, () => NOW);
    activity.onSyncEvent(refused('location_empty', { sku: NEW, chainAvailable: 5 }));
    activity.onSyncEvent(refused('location_empty', { sku: NEW, chainAvailable: null }));
    expect(documents.opened).toEqual([]);
    expect(activity.summary().refusedWithChainStock).toMatchObject([{ sku: NEW, chainAvailable: 5 }]);
    expect(lastMinute(activity)?.locationEmpty).toBe(2);
  });

  it('keeps the latest 50 refusals newest first by when they were made, a late report behind newer ones', async () => {
    const activity = new ChainActivity(hubDocuments(), quiet, () => NOW);
    for (let i = 0; i < 60; i++)
      activity.onSyncEvent(refused('hub_unreachable', { at: NOW - 20 * MINUTE + i * 1_000 }));
    await vi.waitFor(() => expect(activity.summary().refusedWithChainStock).toHaveLength(50));
    // A refusal made while cut off, long before, reported now: older than all 50 kept, so not listed.
    activity.onSyncEvent(refused('hub_unreachable', { at: NOW - 25 * MINUTE }));
    activity.onSyncEvent(refused('location_empty', { at: NOW - 20 * MINUTE + 30_500 }));
    // Read in order: once the second is listed, the first was judged too.
    await vi.waitFor(() =>
      expect(activity.summary().refusedWithChainStock.some((r) => r.cause === 'location_empty')).toBe(true),
    );
    const list = activity.summary().refusedWithChainStock;
    expect(list).toHaveLength(50);
    const times = list.map((r) => Date.parse(r.at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(list[0]?.at).toBe(new Date(NOW - 20 * MINUTE + 59_000).toISOString());
    expect(list.find((r) => r.cause === 'location_empty')?.at).toBe(new Date(NOW - 20 * MINUTE + 30_500).toISOString());
    expect(list.some((r) => Date.parse(r.at) === NOW - 25 * MINUTE)).toBe(false);
  });
});

describe('chain activity on a cluster of hub nodes', () => {
  it("shares a node's refusals, reservation outcomes and alerts, never its sales, and adds the others' to its summary", async () => {
    const a = new ChainActivity(hubDocuments(), quiet, () => NOW);
    const b = new ChainActivity(hubDocuments(), quiet, () => NOW);
    a.onSyncEvent(refused('online_escrow'));
    a.onSyncEvent(refused('location_empty', { at: NOW - 2 * MINUTE, chainAvailable: 5 }));
    a.reservation('held');
    a.reservation('INSUFFICIENT_STOCK');
    b.reservation('held');
    b.onSyncEvent(refused('hub_unreachable', { at: NOW - MINUTE }));
    // Both nodes read the chain's sales from the documents, each on its own.
    const north = { type: 'accepted', storeId: NORTH, sku: MUG, bytes: 10 } as const;
    a.onSyncEvent(north);
    b.onSyncEvent(north);
    await vi.waitFor(() => expect(a.summary().refusedWithChainStock).toHaveLength(2));
    await vi.waitFor(() => expect(b.summary().refusedWithChainStock).toHaveLength(1));

    const shared = a.share();
    expect(shared.minutes.every((m) => !('sold' in m))).toBe(true);
    // Through JSON, as the database keeps it.
    const fromA = JSON.parse(JSON.stringify(shared)) as typeof shared;
    const onB = b.summary([fromA]);
    expect(ChainSummarySchema.safeParse(onB).success).toBe(true);
    expect(onB.minutes.at(-1)?.reservations).toEqual({ held: 2, confirmed: 0, cancelled: 0, expired: 0, refused: 1 });
    expect(onB.minutes.at(-1)?.refused).toEqual({
      locationEmpty: 0,
      escrowHeld: 1,
      hubUnreachable: 0,
      topUpTimeout: 0,
    });
    expect(onB.minutes.at(-2)?.refused.hubUnreachable).toBe(1);
    expect(onB.minutes.at(-3)?.refused.locationEmpty).toBe(1);
    // The alerts of both, newest first.
    expect(onB.refusedWithChainStock.map((r) => r.at)).toEqual(
      [...onB.refusedWithChainStock.map((r) => r.at)].sort().reverse(),
    );
    expect(onB.refusedWithChainStock).toHaveLength(3);
    // The answering node's own minutes are left as they were.
    expect(b.summary().minutes.at(-1)?.reservations.held).toBe(1);
  });
});
