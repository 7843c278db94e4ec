import { checkHistory, type FinalSku, type HistoryEvent, type OperationKind } from '@shelfsync/checker';
import { ledgerSummary, reservableRights, rightsOf } from '@shelfsync/core';
import { assertSafe } from '@shelfsync/core/testing';
import { AllocatorConfigSchema } from '@shelfsync/escrow';
import { ErrorCode, onlineAccount, seededRandom, storeAccount } from '@shelfsync/protocol';
import { MemoryStorageAdapter } from '@shelfsync/storage';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { HubAllocator, Reservations, SHARE_PROTOCOL, withTopUp } from '../src/index.js';
import { TestHub, TestStore, shareMismatch, sku } from '../src/testing/index.js';

const SKU = sku('SIM-1');
const MINUTE = 60_000;
/** Units each store may owe under the manager override. */
const OVERRIDE_CAP = 2;
const runs = (base: number): number => Math.max(1, Math.round(base * Number(process.env.SHELFSYNC_FC_SCALE ?? '1')));

type Action =
  | { kind: 'receive'; store: number; quantity: number }
  | { kind: 'sell'; store: number; quantity: number }
  /** A sale that, refused for want of rights, is made under the manager override. */
  | { kind: 'override'; store: number; quantity: number }
  | { kind: 'reserve'; store: number | null; quantity: number }
  | { kind: 'confirm'; pick: number }
  | { kind: 'cancel'; pick: number }
  | { kind: 'expire'; minutes: number }
  | { kind: 'link'; store: number; up: boolean }
  | { kind: 'sweep' };

const quantity = fc.integer({ min: 1, max: 5 });
const store = fc.nat(2);
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('receive' as const), store, quantity: fc.integer({ min: 1, max: 15 }) }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('sell' as const), store, quantity }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('override' as const), store, quantity }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('reserve' as const), store: fc.option(store, { nil: null }), quantity }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('confirm' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('expire' as const), minutes: fc.integer({ min: 1, max: 20 }) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('link' as const), store, up: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const) }) },
);

/**
 * A hub with its real allocator and reservations, and three stores, over the
 * in-memory transport: random receipts, sales (with top-ups while connected),
 * reservations, confirmations, cancellations and expiries, manager-override
 * sales, random partitions and allocator sweeps. Checked at every step (no account below zero, Σ rights ==
 * value at every replica) and after the heal (every replica converges; the books
 * balance against a model of every acknowledged operation).
 */
async function simulate(actions: readonly Action[], linkSeed = 0): Promise<void> {
  // Seeded link delays: each frame waits 0-7 microtask hops, so a rebalance the
  // hub starts can cross a store's top-up request, as over a WAN.
  const random = seededRandom(linkSeed);
  const link = linkSeed === 0 ? {} : { delay: () => Math.floor(random() * 8) };
  let now = 1_000_000;
  const clock = (): number => now;
  const hub = await TestHub.create({ maxDeficit: OVERRIDE_CAP });
  const config = AllocatorConfigSchema.parse({
    minQuota: 1,
    horizonMs: 60 * MINUTE,
    halfLifeMs: 10 * MINUTE,
    releaseWaitMs: 2_000,
  });
  const allocator = new HubAllocator(hub.storage, hub.engine, hub.sync, config, clock);
  hub.sync.useAllocator(allocator);
  let ids = 0;
  const reservations = await Reservations.open(hub.adapter, hub.engine, allocator, {
    ttlMs: 15 * MINUTE,
    now: clock,
    newId: () => `r_${String(++ids).padStart(22, '0')}`,
    escrow: true,
  });
  // Stores that hold only their share (protocol 7), each relayed only what decides its rights.
  const stores = await Promise.all(
    ['s0', 's1', 's2'].map((id) => TestStore.create(id, new MemoryStorageAdapter(), SHARE_PROTOCOL)),
  );
  const up = stores.map(() => true);
  for (const s of stores) s.connect(hub, link);
  await vi.waitFor(() => expect(stores.every((s) => s.caughtUpCount() >= 1)).toBe(true), { interval: 1 });
  // Sales the hub answered while their location held the units, and that were refused anyway.
  const refusedWithOwnStock: { store: string; quantity: number; available: number }[] = [];
  // Orders for pickup at a connected store whose shelf held the units (as both the hub and the store saw it), refused anyway.
  const ordersRefusedWithShelf: { store: string; quantity: number; shelf: number }[] = [];

  // The model: what was acknowledged.
  let received = 0;
  let sold = 0;
  let promisedOnline = 0;
  let reservedEver = 0;
  let cancelledEver = 0;
  const held = new Map<string, number>();
  // The same history the partition simulator records, for the same checker.
  const history: HistoryEvent[] = [];
  let opId = 0;
  const record = (kind: OperationKind, quantity: number, ok: boolean, id = `op-${++opId}`): void => {
    history.push(
      { id, sku: SKU, kind, quantity, phase: 'invoke' },
      { id, sku: SKU, kind, quantity, phase: ok ? 'ok' : 'fail' },
    );
  };

  const checkSafe = async (): Promise<void> => {
    assertSafe(await hub.stock(SKU));
    for (const s of stores) assertSafe(await s.stock(SKU));
  };

  for (const action of actions) {
    switch (action.kind) {
      case 'receive': {
        const s = stores[action.store];
        if (s === undefined) break;
        const result = await s.apply(SKU, { type: 'receive', account: storeAccount(s.id), quantity: action.quantity });
        if (result.ok) received += action.quantity;
        record('receive', action.quantity, result.ok);
        break;
      }
      case 'sell':
      case 'override': {
        const s = stores[action.store];
        if (s === undefined) break;
        const sale = { type: 'sell' as const, account: storeAccount(s.id), quantity: action.quantity };
        const doc = await s.storage.open(SKU);
        let tried = s.commitLocal(doc, SKU, sale);
        if (!tried.result.ok && tried.result.error.code === ErrorCode.InsufficientRights && up[action.store] === true) {
          // The store node's own top-up logic, with a wait no schedule here comes near.
          const outcome = await withTopUp(s.sync, doc, SKU, tried, () => s.commitLocal(doc, SKU, sale), 5_000);
          tried = outcome;
          if (!tried.result.ok && outcome.topUp !== null && outcome.topUp.available >= action.quantity) {
            refusedWithOwnStock.push({ store: s.id, quantity: action.quantity, available: outcome.topUp.available });
          }
        }
        await tried.durable;
        let result = tried.result;
        if (!result.ok && result.error.code === ErrorCode.InsufficientRights && action.kind === 'override') {
          result = await s.apply(SKU, { ...sale, type: 'sellOverride', cap: OVERRIDE_CAP });
        }
        if (result.ok) sold += action.quantity;
        record('sell', action.quantity, result.ok);
        break;
      }
      case 'reserve': {
        const storeId = action.store === null ? undefined : stores[action.store]?.id;
        const at = action.store === null ? undefined : stores[action.store];
        // What the location could give: its online rights, and the POS rights both sides agree it holds.
        const shelf =
          at === undefined
            ? 0
            : reservableRights(await hub.storage.open(SKU), onlineAccount(at.id)) +
              Math.min(
                rightsOf(await hub.storage.open(SKU), storeAccount(at.id)),
                rightsOf(await at.storage.open(SKU), storeAccount(at.id)),
              );
        const connected = at !== undefined && hub.sync.storeLinks().some((l) => l.storeId === at.id && l.connected);
        const made = await reservations.reserve({
          sku: SKU,
          quantity: action.quantity,
          ...(storeId === undefined ? {} : { storeId }),
        });
        record('reserve', action.quantity, made.ok, made.ok ? made.value.id : undefined);
        if (made.ok) {
          held.set(made.value.id, action.quantity);
          promisedOnline += action.quantity;
          reservedEver += action.quantity;
        } else {
          expect(made.error.code).toBe(ErrorCode.InsufficientStock);
          if (at !== undefined && connected && shelf >= action.quantity) {
            ordersRefusedWithShelf.push({ store: at.id, quantity: action.quantity, shelf });
          }
        }
        break;
      }
      case 'confirm':
      case 'cancel': {
        const ids = [...held.keys()];
        const id = ids[action.pick % Math.max(1, ids.length)];
        if (id === undefined) break;
        const closed = action.kind === 'confirm' ? await reservations.confirm(id) : await reservations.cancel(id);
        expect(closed.ok).toBe(true);
        record(action.kind, held.get(id) ?? 0, closed.ok, `${id}:${action.kind}`);
        if (action.kind === 'cancel') {
          promisedOnline -= held.get(id) ?? 0;
          cancelledEver += held.get(id) ?? 0;
        }
        held.delete(id);
        break;
      }
      case 'expire': {
        now += action.minutes * MINUTE;
        await reservations.expireDue();
        for (const [id, q] of [...held]) {
          if ((await reservations.get(id))?.state === 'expired') {
            record('expire', q, true, `${id}:expire`);
            promisedOnline -= q;
            cancelledEver += q;
            held.delete(id);
          }
        }
        break;
      }
      case 'link': {
        const s = stores[action.store];
        if (s === undefined || up[action.store] === action.up) break;
        up[action.store] = action.up;
        if (action.up) s.connect(hub, link);
        else s.disconnect();
        break;
      }
      case 'sweep':
        now += MINUTE;
        await allocator.sweep();
        break;
    }
    await checkSafe();
    // Never more committed than received, but for the stores' capped override deficits.
    expect(sold + promisedOnline).toBeLessThanOrEqual(received + stores.length * OVERRIDE_CAP);
  }

  // Heal: every link up; wait until every store holds its share of the hub's document.
  stores.forEach((s, i) => {
    if (up[i] !== true) s.connect(hub, link);
  });
  // Honest stores send nothing the hub refuses: a change reaching it before one it builds on would be.
  expect(hub.events.filter((e) => e.type === 'rejected')).toEqual([]);
  // A connected store never refuses a sale its own location could fill.
  expect(refusedWithOwnStock).toEqual([]);
  // An online order a connected store's shelf could fill is served: the store releases what the escrow lacks.
  expect(ordersRefusedWithShelf).toEqual([]);
  // Quiescence: releases the hub asked for during the run may still be on their way.
  await vi.waitFor(
    async () => {
      const hubDoc = await hub.storage.open(SKU);
      const hubAccounts = (await hub.stock(SKU)).accounts;
      for (const s of stores) {
        expect(s.storage.dirtyCount()).toBe(0);
        expect(shareMismatch(hubDoc, await s.storage.open(SKU), s, hub.storage.writerClients)).toBeNull();
        // Its location's accounts, as the hub holds them.
        const own = (await s.stock(SKU)).accounts;
        for (const account of [`store:${s.id}`, `online:${s.id}`]) expect(own[account]).toEqual(hubAccounts[account]);
      }
    },
    { timeout: 10_000, interval: 5 },
  );
  const hubView = await hub.stock(SKU);
  await checkSafe();
  // The books balance: received = sold + promised online + available, per SKU.
  expect(hubView.value).toBe(received - sold - promisedOnline);
  // No operation lost or doubled: every acknowledged one is in the merged totals exactly once.
  expect(hubView.committed).toBe(sold + reservedEver);
  expect(hubView.added).toBe(received + cancelledEver);
  // The partition simulator's checker agrees, on the history and every replica's final state.
  // Read until stable: the hub may still be settling what the last updates asked of it (a cover, a release).
  await vi.waitFor(
    async () => {
      const replicas: Record<string, Record<string, FinalSku>> = {
        hub: { [SKU]: ledgerSummary(await hub.storage.open(SKU)) },
      };
      for (const s of stores) replicas[s.id] = { [SKU]: { ...ledgerSummary(await s.storage.open(SKU)), share: s.id } };
      expect(checkHistory(history, replicas, { overrideCap: OVERRIDE_CAP }).violations).toEqual([]);
    },
    { timeout: 10_000, interval: 5 },
  );
  // Healed and swept: every deficit the escrow can cover is settled; what stays owed had no online rights left.
  await allocator.sweep();
  for (const s of stores) {
    const location = (await hub.stock(SKU)).locations[s.id];
    if ((location?.deficit ?? 0) > 0) expect(location?.onlineRights).toBe(0);
  }
  reservations.stop();
}

describe('escrow under partitions (deterministic simulation, fast-check)', () => {
  it('no oversell, no negative rights, convergence and balanced books, whatever the schedule', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(actionArb, { minLength: 5, maxLength: 40 }),
        fc.integer({ min: 0, max: 0x7fff_ffff }),
        (actions, linkSeed) => simulate(actions, linkSeed),
      ),
      // SHELFSYNC_FC_SEED replays the seed a failure printed.
      {
        numRuns: runs(2000),
        // A schedule that hangs fails on its own with its seed, and a slow machine runs fewer
        // schedules instead of timing out the test, which would hide the counterexample.
        plugins: [fc.timeout(30_000), fc.interruptAfterTimeLimit(90_000)],
        // Found by seed -1080563155: a store reconnecting applied a relayed grant before
        // the step 2 carrying the release it rests on, and showed negative rights.
        examples: [
          [
            [
              { kind: 'receive', store: 1, quantity: 3 },
              { kind: 'link', store: 0, up: false },
              { kind: 'sell', store: 1, quantity: 1 },
              { kind: 'link', store: 0, up: true },
              { kind: 'confirm', pick: 0 },
              { kind: 'reserve', store: null, quantity: 1 },
              { kind: 'link', store: 0, up: false },
              { kind: 'receive', store: 0, quantity: 1 },
              { kind: 'reserve', store: null, quantity: 1 },
            ],
            0,
          ],
          // A sweep's grant crossed a top-up: the hub answered "granted 0" and the store,
          // without judging the sale again, refused it with the rights already there.
          [
            [
              { kind: 'receive', store: 2, quantity: 4 },
              { kind: 'sell', store: 2, quantity: 1 },
              { kind: 'sweep' },
              { kind: 'sell', store: 2, quantity: 2 },
              { kind: 'sell', store: 0, quantity: 1 },
              { kind: 'reserve', store: null, quantity: 1 },
            ],
            0,
          ],
          // The store releases rights (as the hub asked) after its top-up request: the hub's
          // answer counts rights the store no longer holds; the store must ask again, not wait them out.
          [
            [
              { kind: 'receive', store: 1, quantity: 3 },
              { kind: 'receive', store: 0, quantity: 1 },
              { kind: 'expire', minutes: 1 },
              { kind: 'receive', store: 1, quantity: 2 },
              { kind: 'sell', store: 1, quantity: 4 },
              { kind: 'receive', store: 0, quantity: 1 },
              { kind: 'sweep' },
              { kind: 'sell', store: 0, quantity: 1 },
              { kind: 'sell', store: 0, quantity: 1 },
              { kind: 'sweep' },
            ],
            0,
          ],
          // Found by seed 21 (a CI run timed out shrinking it): a release the hub asked for was
          // applied, and recorded only after a receipt made after it; the hub refused the receipt's
          // change (it builds on the release, not there yet), and a second such refusal within the
          // resync interval was dropped, so the SKU stayed apart. Now a change is recorded in the
          // tick it is made, and a resync asked for too soon is held, not dropped.
          [
            [
              { kind: 'sell', store: 0, quantity: 1 },
              { kind: 'receive', store: 2, quantity: 2 },
              { kind: 'reserve', store: 0, quantity: 1 },
              { kind: 'receive', store: 2, quantity: 3 },
              { kind: 'link', store: 0, up: false },
              { kind: 'receive', store: 1, quantity: 5 },
              { kind: 'reserve', store: null, quantity: 2 },
              { kind: 'sell', store: 0, quantity: 1 },
              { kind: 'expire', minutes: 1 },
              { kind: 'reserve', store: null, quantity: 2 },
              { kind: 'link', store: 0, up: false },
              { kind: 'receive', store: 2, quantity: 1 },
              { kind: 'reserve', store: null, quantity: 1 },
            ],
            420982567,
          ],
        ],
        ...(process.env.SHELFSYNC_FC_SEED === undefined ? {} : { seed: Number(process.env.SHELFSYNC_FC_SEED) }),
        // With the seed, SHELFSYNC_FC_PATH runs only the failing schedule it printed.
        ...(process.env.SHELFSYNC_FC_PATH === undefined ? {} : { path: process.env.SHELFSYNC_FC_PATH }),
      },
    );
  }, 120_000);
});
