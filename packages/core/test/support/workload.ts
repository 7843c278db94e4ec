import { onlineAccount, seededRandom, storeAccount } from '@shelfsync/protocol';
import * as Y from 'yjs';
import type { Operation } from '../../src/index.js';
import { makeHub, makeStores, storeIdOf, syncWithHub, type Replica } from './replica.js';

/** The first choice whose cumulative threshold exceeds `r` (in [0, 1)). */
function pick(r: number, choices: readonly (readonly [number, Operation])[]): Operation {
  const chosen = choices.find(([upTo]) => r < upTo) ?? choices.at(-1);
  if (chosen === undefined) throw new Error('no choices');
  return chosen[1];
}

export interface GrowthSample {
  readonly operations: number;
  readonly bytes: number;
}

/**
 * Runs `total` operations over `stores` stores and the hub (2 accounts per
 * store: store:X written by the store, online:X by the hub), syncing every
 * `syncEvery` operations, and samples the hub document's encoded size.
 */
export function runGrowthWorkload(options: {
  stores: number;
  total: number;
  syncEvery: number;
  sampleAt: readonly number[];
  seed: number;
}): { samples: GrowthSample[]; hub: Replica; stores: Replica[] } {
  const random = seededRandom(options.seed);
  const stores = makeStores(options.stores);
  const hub = makeHub();
  const samples: GrowthSample[] = [];
  const sampleAt = new Set(options.sampleAt);
  for (let done = 1; done <= options.total; done++) {
    const index = Math.floor(random() * (options.stores + 1));
    const store = stores[index];
    const location = storeIdOf(index % options.stores);
    const r = random();
    if (store !== undefined) {
      const own = storeAccount(location);
      store.apply(
        pick(r, [
          [0.6, { type: 'sell', account: own, quantity: 1 }],
          [0.8, { type: 'receive', account: own, quantity: 5 }],
          [0.9, { type: 'transferRights', from: own, to: onlineAccount(location), quantity: 1 }],
          [1, { type: 'return', account: own, quantity: 1 }],
        ]),
      );
    } else {
      const online = onlineAccount(location);
      hub.apply(
        pick(r, [
          [0.4, { type: 'reserve', account: online, quantity: 1 }],
          [0.6, { type: 'settleReservation', account: online, quantity: 1 }],
          [0.7, { type: 'cancelReservation', account: online, quantity: 1 }],
          [0.85, { type: 'transferRights', from: online, to: storeAccount(location), quantity: 1 }],
          [1, { type: 'receive', account: online, quantity: 3 }],
        ]),
      );
    }
    if (done % options.syncEvery === 0) {
      for (const s of stores) {
        const verdict = syncWithHub(s, hub);
        if (!verdict.ok) throw new Error(`hub rejected an honest sync: ${verdict.error.detail}`);
      }
    }
    if (sampleAt.has(done)) {
      for (const s of stores) syncWithHub(s, hub);
      samples.push({ operations: done, bytes: Y.encodeStateAsUpdate(hub.doc).byteLength });
    }
  }
  return { samples, hub, stores };
}
