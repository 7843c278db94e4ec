import { HUB_WRITER, StoreIdSchema, onlineAccount, storeAccount, storeWriter } from '@shelfsync/protocol';
import * as Y from 'yjs';
import { applyOperation, createSkuDoc, validateUpdate } from '../src/index.js';
import { runGrowthWorkload, runWideWorkload } from '../test/support/workload.js';

/** One measured quantity, in the unit it names. */
export interface BenchRow {
  readonly name: string;
  readonly value: string;
  readonly note: string;
}

/** Runs `body` in batches for about `ms` milliseconds after a warm-up; returns operations per second (median of batches). */
function opsPerSecond(body: () => void, ms = 1500): number {
  for (let i = 0; i < 2000; i++) body();
  const rates: number[] = [];
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    const start = performance.now();
    let n = 0;
    while (performance.now() - start < 100) {
      for (let i = 0; i < 100; i++) body();
      n += 100;
    }
    rates.push((n * 1000) / (performance.now() - start));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)] ?? 0;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const micros = (opsPerSec: number): string => (1e6 / opsPerSec).toFixed(2);

/** A hub document holding 10 stores (20 accounts), as a busy SKU looks. */
function busyHubDoc(): Y.Doc {
  const hub = createSkuDoc();
  for (let i = 0; i < 10; i++) {
    const id = StoreIdSchema.parse(`store-${i}`);
    const store = createSkuDoc();
    applyOperation(store, storeWriter(id), { type: 'receive', account: storeAccount(id), quantity: 1_000_000 });
    Y.applyUpdate(hub, Y.encodeStateAsUpdate(store));
    applyOperation(hub, HUB_WRITER, { type: 'receive', account: onlineAccount(id), quantity: 1_000 });
  }
  return hub;
}

export function runCoreBench(): BenchRow[] {
  const rows: BenchRow[] = [];
  const id = StoreIdSchema.parse('store-0');
  const writer = storeWriter(id);
  const own = storeAccount(id);

  // A store selling on its own replica of a busy SKU.
  const storeDoc = createSkuDoc();
  Y.applyUpdate(storeDoc, Y.encodeStateAsUpdate(busyHubDoc()));
  const sellRate = opsPerSecond(() => {
    const result = applyOperation(storeDoc, writer, { type: 'sell', account: own, quantity: 1 });
    if (!result.ok) throw new Error(result.error.detail);
  });
  rows.push({
    name: 'sell on one doc (20 accounts)',
    value: `${fmt(sellRate)} ops/s`,
    note: `${micros(sellRate)} µs per sale, incl. its Yjs transaction`,
  });

  // Incremental updates: a store's sales as the hub receives them.
  const hub = busyHubDoc();
  const store = createSkuDoc();
  Y.applyUpdate(store, Y.encodeStateAsUpdate(hub));
  const updates: Uint8Array[] = [];
  store.on('update', (u: Uint8Array) => updates.push(u));
  const count = 20_000;
  for (let i = 0; i < count; i++) applyOperation(store, writer, { type: 'sell', account: own, quantity: 1 });
  const avgBytes = updates.reduce((s, u) => s + u.byteLength, 0) / updates.length;

  let cursor = 0;
  const sv = Y.encodeStateVector(hub);
  const encodeRate = opsPerSecond(() => {
    Y.encodeStateAsUpdate(store, sv);
  });
  rows.push({
    name: 'encode a diff against a state vector',
    value: `${fmt(encodeRate)} /s`,
    note: `${micros(encodeRate)} µs`,
  });

  // Raw apply, validation alone, and validate+apply, on fresh copies of the same hub so each sees the same state.
  const freshHub = (): Y.Doc => {
    const d = createSkuDoc();
    Y.applyUpdate(d, Y.encodeStateAsUpdate(hub));
    return d;
  };
  const measureSequence = (label: string, step: (doc: Y.Doc, update: Uint8Array) => void): number => {
    let doc = freshHub();
    cursor = 0;
    return opsPerSecond(() => {
      if (cursor === updates.length) {
        doc = freshHub();
        cursor = 0;
      }
      step(doc, updates[cursor++] as Uint8Array);
      void label;
    });
  };
  const applyRate = measureSequence('apply', (doc, u) => Y.applyUpdate(doc, u));
  const validateRate = measureSequence('validate', (doc, u) => {
    const verdict = validateUpdate(doc, u, writer);
    if (!verdict.ok) throw new Error(verdict.error.detail);
    Y.applyUpdate(doc, u);
  });
  rows.push({
    name: 'Y.applyUpdate of one incremental update',
    value: `${fmt(applyRate)} /s`,
    note: `${micros(applyRate)} µs; ${avgBytes.toFixed(0)} B per update`,
  });
  rows.push({
    name: 'validateUpdate + Y.applyUpdate',
    value: `${fmt(validateRate)} /s`,
    note: `${micros(validateRate)} µs; validation adds ${(1e6 / validateRate - 1e6 / applyRate).toFixed(2)} µs (${(applyRate / validateRate).toFixed(1)}x raw apply)`,
  });

  const { samples } = runGrowthWorkload({
    stores: 10,
    total: 100_000,
    syncEvery: 250,
    sampleAt: [10, 1_000, 100_000],
    seed: 7,
  });
  for (const sample of samples) {
    rows.push({
      name: `encoded size after ${fmt(sample.operations)} ops`,
      value: `${fmt(sample.bytes)} B`,
      note: '10 stores + hub, 20 accounts, synced every 250 ops',
    });
  }
  // The layout ADR 0006 rejected, for comparison: one key per account and field,
  // written by one client that interleaves keys (as the hub does across online accounts).
  const rejected = new Y.Doc();
  for (let i = 0; i < 100_000; i++) {
    rejected.getMap(i % 3 === 0 ? 'p' : 'n').set(`online:store-${i % 10}`, i);
  }
  rows.push({
    name: 'rejected layout (key per account field) after 100,000 ops',
    value: `${fmt(Y.encodeStateAsUpdate(rejected).byteLength)} B`,
    note: 'for comparison; see docs/decisions/0006',
  });

  // Schema version 2 (docs/decisions/0021): a SKU held by 500 stores, the hub
  // writing their online accounts 100,000 times (and the stores 20,000 times),
  // in both layouts. Version 1 takes minutes here: each hub write rewrites and
  // re-parses all 500 accounts.
  for (const version of [1, 2] as const) {
    const wide = runWideWorkload({ version, accounts: 500, hubWrites: 100_000, storeEvery: 5, seed: 11 });
    rows.push({
      name: `schema v${version}: encoded size after 100,000 hub writes over 500 online accounts`,
      value: `${fmt(wide.docBytes)} B`,
      note: `${fmt(wide.hubUpdateBytes / wide.hubWrites)} B per hub update; ${fmt(wide.storeWrites)} store writes besides`,
    });
  }
  // Why version 2 gives each online account a client id: its entries alone, under one id or one id each.
  for (const perAccount of [false, true]) {
    const doc = new Y.Doc();
    const hubId = doc.clientID;
    const state = { p: 0, n: 0, t: {}, reserved: 0, settled: 0 };
    for (let i = 0; i < 100_000; i++) {
      const index = (i * 7919) % 500;
      const account = `online:store-${index}`;
      doc.clientID = perAccount ? 1_000 + index : hubId;
      doc.getMap('ledger').set(account, { [account]: { ...state, p: i } });
    }
    rows.push({
      name: `500 online entries, 100,000 writes, ${perAccount ? 'one client id per entry' : 'one hub client id'}`,
      value: `${fmt(Y.encodeStateAsUpdate(doc).byteLength)} B`,
      note: perAccount
        ? 'the version 2 rule: each overwrite merges into its entry’s run'
        : 'for comparison: every write leaves a struct behind; see docs/decisions/0021',
    });
  }
  return rows;
}
