import { applyOperation, createSkuDoc, validateUpdate, type Operation } from '@shelfsync/core';
import { SkuSchema, StoreIdSchema, onlineAccount, storeAccount, storeWriter, type Sku } from '@shelfsync/protocol';
import { MemoryStorageAdapter } from '@shelfsync/storage';
import * as Y from 'yjs';
import {
  HubStorage,
  HubSync,
  PROTOCOL_VERSION,
  StoreStorage,
  StoreSync,
  createTransportPair,
  type Transport,
} from '../src/index.js';

export interface BenchRow {
  readonly name: string;
  readonly value: string;
  readonly note: string;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Counts the bytes a transport sends. */
function counting(transport: Transport): Transport & { bytes: number; frames: number } {
  const counted = {
    bytes: 0,
    frames: 0,
    send(frame: Uint8Array) {
      counted.bytes += frame.byteLength;
      counted.frames++;
      transport.send(frame);
    },
    close: (code: number, reason: string) => transport.close(code, reason),
    get bufferedAmount() {
      return transport.bufferedAmount;
    },
    onMessage: (handler: (frame: Uint8Array) => void) => transport.onMessage(handler),
    onClose: (handler: (code: number, reason: string) => void) => transport.onClose(handler),
  };
  return counted;
}

interface Node {
  sync: StoreSync;
  storage: StoreStorage;
  caughtUp: () => Promise<void>;
}

async function makeStore(id: string): Promise<Node> {
  const storage = await StoreStorage.open(new MemoryStorageAdapter());
  let resolveCaughtUp: (() => void) | null = null;
  const sync = new StoreSync(StoreIdSchema.parse(id), storage, {
    onEvent: (event) => {
      if (event.type === 'caught-up') resolveCaughtUp?.();
    },
  });
  return {
    sync,
    storage,
    caughtUp: () =>
      new Promise<void>((resolve) => {
        resolveCaughtUp = resolve;
      }),
  };
}

/** The store applies `operation` to its replica of `sku` and hands the update to its sync, as its point of sale does. */
async function perform(node: Node, storeId: string, sku: Sku, operation: Operation): Promise<void> {
  const doc = await node.storage.open(sku);
  const updates: Uint8Array[] = [];
  const collect = (u: Uint8Array, origin: unknown): void => {
    if (origin === 'bench') updates.push(u);
  };
  doc.on('update', collect);
  applyOperation(doc, storeWriter(StoreIdSchema.parse(storeId)), operation, 'bench');
  doc.off('update', collect);
  for (const u of updates) {
    await node.storage.recordLocal(sku, u);
    node.sync.localUpdate(sku, u);
  }
}

const receive = (storeId: string, quantity: number): Operation => ({
  type: 'receive',
  account: storeAccount(StoreIdSchema.parse(storeId)),
  quantity,
});

function connect(hub: HubSync, node: Node, storeId: string) {
  const [storeSide, hubSide] = createTransportPair();
  const up = counting(storeSide);
  const down = counting(hubSide);
  hub.connect(StoreIdSchema.parse(storeId), down);
  const caughtUp = node.caughtUp();
  node.sync.attach(up);
  return { up, down, caughtUp };
}

/** Who changed the SKUs while the store was away. */
type ChangedBy = 'hub' | 'other store';

/**
 * Catch-up of a store holding `catalog` SKU documents after `changed` of them
 * changed at the hub while it was away: by the hub granting its till rights
 * from its location's online escrow (its share: it must receive each), or by
 * another store's receipts (not its share: a store on protocol 7 receives none).
 */
async function catchUp(catalog: number, changed: number, by: ChangedBy = 'hub'): Promise<BenchRow> {
  const hubStorage = await HubStorage.open(new MemoryStorageAdapter(), () => 'bench');
  const hub = new HubSync(hubStorage);
  const store = await makeStore('s1');
  const other = await makeStore('s2');
  const skus = Array.from({ length: catalog }, (_, i) => SkuSchema.parse(`SKU-${String(i).padStart(5, '0')}`));
  const s1 = StoreIdSchema.parse('s1');

  const first = connect(hub, store, 's1');
  await first.caughtUp;
  for (const sku of skus.slice(changed)) await perform(store, 's1', sku, receive('s1', 10));
  // The SKUs the hub will change: received, and some of it released to the online escrow the hub grants from.
  for (const sku of skus.slice(0, changed)) {
    await perform(store, 's1', sku, receive('s1', 10));
    if (by === 'hub') {
      await perform(store, 's1', sku, {
        type: 'transferRights',
        from: storeAccount(s1),
        to: onlineAccount(s1),
        quantity: 2,
      });
    }
  }
  // Wait until the hub holds the whole catalog and the store is clean.
  const written = by === 'hub' ? catalog + changed : catalog;
  while (hubStorage.cursor() < written || (await store.storage.dirty()).length > 0)
    await new Promise((r) => setImmediate(r));
  store.sync.detach();

  if (by === 'hub') {
    for (const sku of skus.slice(0, changed)) {
      await hub.engine.writeAsHub(sku, 'grant', () => ({
        type: 'transferRights',
        from: onlineAccount(s1),
        to: storeAccount(s1),
        quantity: 1,
      }));
    }
  } else {
    const o = connect(hub, other, 's2');
    await o.caughtUp;
    for (const sku of skus.slice(0, changed)) await perform(other, 's2', sku, receive('s2', 1));
  }
  while (hubStorage.cursor() < written + changed) await new Promise((r) => setImmediate(r));

  const start = performance.now();
  const again = connect(hub, store, 's1');
  await again.caughtUp;
  const ms = performance.now() - start;
  const what =
    changed === 0
      ? '0 changed'
      : by === 'hub'
        ? `${fmt(changed)} granted to it`
        : `${fmt(changed)} changed by another store`;
  return {
    name: `catch-up: ${fmt(catalog)} SKUs, ${what} while offline`,
    value: `${ms.toFixed(1)} ms`,
    note: `${fmt(again.up.bytes + again.down.bytes)} B in ${fmt(again.up.frames + again.down.frames)} frames (store sent ${fmt(again.up.bytes)} B)`,
  };
}

/** Validated, durable (in-memory storage), acknowledged updates per second at the hub, against raw Y.applyUpdate of the same updates. */
async function mergeThroughput(count: number): Promise<BenchRow[]> {
  const sku = SkuSchema.parse('MUG-1');
  const id = StoreIdSchema.parse('s1');
  const source = createSkuDoc();
  const updates: Uint8Array[] = [];
  source.on('update', (u: Uint8Array) => updates.push(u));
  applyOperation(source, storeWriter(id), { type: 'receive', account: storeAccount(id), quantity: count * 2 });
  for (let i = 0; i < count; i++)
    applyOperation(source, storeWriter(id), { type: 'sell', account: storeAccount(id), quantity: 1 });

  let start = performance.now();
  const raw = createSkuDoc();
  for (const u of updates) Y.applyUpdate(raw, u);
  const rawRate = updates.length / ((performance.now() - start) / 1000);

  start = performance.now();
  const validated = createSkuDoc();
  for (const u of updates) {
    if (!validateUpdate(validated, u, storeWriter(id)).ok) throw new Error('rejected');
    Y.applyUpdate(validated, u);
  }
  const validateRate = updates.length / ((performance.now() - start) / 1000);

  const hubStorage = await HubStorage.open(new MemoryStorageAdapter(), () => 'bench');
  const hub = new HubSync(hubStorage);
  const [storeSide, hubSide] = createTransportPair();
  hub.connect(id, hubSide);
  const { encodeControlFrame, encodeDocFrame, SyncMessageType, decodeFrame } = await import('../src/index.js');
  let acked = 0;
  let welcomed: () => void = () => {};
  const welcome = new Promise<void>((resolve) => {
    welcomed = resolve;
  });
  storeSide.onMessage((bytes) => {
    const frame = decodeFrame(bytes);
    if (frame.kind === 'control' && frame.message.type === 'ack') acked = frame.message.ref;
    if (frame.kind === 'control' && frame.message.type === 'welcome') welcomed();
  });
  storeSide.send(
    encodeControlFrame({ type: 'hello', protocol: PROTOCOL_VERSION, storeId: id, epoch: null, cursor: 0, dirty: [] }),
  );
  await welcome;
  start = performance.now();
  updates.forEach((u, i) => storeSide.send(encodeDocFrame(sku, i + 1, SyncMessageType.Update, u)));
  while (acked < updates.length) await new Promise((r) => setImmediate(r));
  const hubRate = updates.length / ((performance.now() - start) / 1000);

  return [
    {
      name: 'raw Y.applyUpdate',
      value: `${fmt(rawRate)} updates/s`,
      note: `${fmt(updates.length)} sale updates of one store, one SKU`,
    },
    {
      name: 'validateUpdate + Y.applyUpdate',
      value: `${fmt(validateRate)} updates/s`,
      note: `${(rawRate / validateRate).toFixed(1)}x the raw cost`,
    },
    {
      name: 'hub merge: frame decode, validate, apply, store, ack, relay',
      value: `${fmt(hubRate)} updates/s`,
      note: 'HubSync over the in-memory transport and storage adapter: protocol and merge cost, no network or disk',
    },
  ];
}

export async function runSyncBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  rows.push(...(await mergeThroughput(20_000)));
  rows.push(await catchUp(10_000, 1_000, 'hub'));
  rows.push(await catchUp(10_000, 1_000, 'other store'));
  rows.push(await catchUp(10_000, 0));
  rows.push(await catchUp(1_000, 0));
  return rows;
}
