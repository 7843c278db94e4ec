import {
  HUB_WRITER,
  SkuSchema,
  onlineAccount,
  seededRandom,
  storeAccount,
  storeWriter,
  type SchemaVersion,
} from '@shelfsync/protocol';
import * as Y from 'yjs';
import { applyOperation, applyValidatedUpdate, createSkuDoc, migrateToV2, type Operation } from '../../src/index.js';
import { MemoryWriterClients } from '../../src/testing/index.js';
import { REMOTE, makeHub, makeStores, storeIdOf, syncWithHub, type Replica } from './replica.js';

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

export interface WideRun {
  /** Hub writes made (each one operation, one update). */
  readonly hubWrites: number;
  /** Bytes of every update the hub's writes produced, in total. */
  readonly hubUpdateBytes: number;
  readonly storeWrites: number;
  /** The hub's document, encoded whole, at the end. */
  readonly docBytes: number;
  /** The same at each of `sampleAt` hub writes. */
  readonly samples: readonly GrowthSample[];
  readonly hub: Y.Doc;
}

/**
 * A wide SKU: `accounts` stores, so as many online accounts, and `hubWrites`
 * operations by the hub spread over them at random (reservations, settlements,
 * cancellations, grants, receipts), with a store's own operation (validated and
 * applied at the hub) after every `storeEvery` of them. The hub's document is of
 * `version`; in version 2 it writes under per-account client ids.
 */
export function runWideWorkload(options: {
  version: SchemaVersion;
  accounts: number;
  hubWrites: number;
  storeEvery: number;
  seed: number;
  sampleAt?: readonly number[];
}): WideRun {
  const sampleAt = new Set(options.sampleAt);
  const samples: GrowthSample[] = [];
  const random = seededRandom(options.seed);
  const clients = options.version === 2 ? new MemoryWriterClients(random) : undefined;
  const hub = createSkuDoc(clients === undefined ? {} : { clientID: clients.neutral });
  if (clients !== undefined) migrateToV2(hub, SkuSchema.parse('SKU-1'), clients);
  let hubUpdateBytes = 0;
  hub.on('update', (update: Uint8Array, origin: unknown) => {
    if (origin !== REMOTE) hubUpdateBytes += update.byteLength;
  });
  const stores = new Map<number, Y.Doc>();
  const storeOperation = (index: number): void => {
    const id = storeIdOf(index);
    const own = storeAccount(id);
    let doc = stores.get(index);
    let operation: Operation = { type: 'receive', account: own, quantity: 20 };
    if (doc === undefined) {
      doc = createSkuDoc({ clientID: 1 + index });
      stores.set(index, doc);
    } else {
      operation = pick(random(), [
        [0.5, { type: 'sell', account: own, quantity: 1 }],
        [0.7, { type: 'receive', account: own, quantity: 5 }],
        [1, { type: 'transferRights', from: own, to: onlineAccount(id), quantity: 2 }],
      ]);
    }
    const before = Y.encodeStateVector(doc);
    if (!applyOperation(doc, storeWriter(id), operation).ok) return;
    const verdict = applyValidatedUpdate(hub, Y.encodeStateAsUpdate(doc, before), storeWriter(id), REMOTE);
    if (!verdict.ok) throw new Error(`hub refused an honest store update: ${verdict.error.detail}`);
  };

  let hubWrites = 0;
  let storeWrites = 0;
  for (let attempts = 0; hubWrites < options.hubWrites; attempts++) {
    if (attempts > options.hubWrites * 4) throw new Error('the workload makes too few hub writes');
    const index = Math.floor(random() * options.accounts);
    const location = storeIdOf(index);
    const online = onlineAccount(location);
    const operation = pick(random(), [
      [0.3, { type: 'receive', account: online, quantity: 3 }],
      [0.55, { type: 'reserve', account: online, quantity: 1 }],
      [0.75, { type: 'settleReservation', account: online, quantity: 1 }],
      [0.85, { type: 'cancelReservation', account: online, quantity: 1 }],
      [1, { type: 'transferRights', from: online, to: storeAccount(location), quantity: 1 }],
    ]);
    if (!applyOperation(hub, HUB_WRITER, operation, null, clients).ok) continue;
    hubWrites++;
    if (sampleAt.has(hubWrites)) samples.push({ operations: hubWrites, bytes: Y.encodeStateAsUpdate(hub).byteLength });
    if (hubWrites % options.storeEvery === 0) {
      storeOperation(Math.floor(random() * options.accounts));
      storeWrites++;
    }
  }
  return { hubWrites, hubUpdateBytes, storeWrites, docBytes: Y.encodeStateAsUpdate(hub).byteLength, samples, hub };
}
