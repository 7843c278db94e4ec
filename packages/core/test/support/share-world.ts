import fc from 'fast-check';
import * as Y from 'yjs';
import { LEDGER_MAP, META_MAP, encodeShare } from '../../src/index.js';

/**
 * A SKU document written as interest-scoped replication will write it: the hub
 * writes each online account under a Yjs client id of its own and `meta` under
 * another, each store writes its `store:` entry under its own id, and a store
 * holds only its share (the ids of the writers it follows). Writers may move
 * to a fresh id (a store's lost data directory, an account the hub re-keys);
 * the key's chain then runs across both ids, so a share holds every id a
 * writer it follows ever used.
 */

/** Transaction origin of updates from a peer, so a replica's log holds only what it wrote. */
export const REMOTE = Symbol('remote');

export type Step =
  | { readonly kind: 'account'; readonly account: number; readonly times: number; readonly together: boolean }
  | { readonly kind: 'meta'; readonly key: number }
  | { readonly kind: 'store'; readonly store: number; readonly times: number; readonly together: boolean }
  | { readonly kind: 'rekey'; readonly writer: number }
  | { readonly kind: 'deliver'; readonly store: number; readonly pick: number }
  | { readonly kind: 'push'; readonly store: number }
  | { readonly kind: 'share'; readonly store: number }
  | { readonly kind: 'checkpoint' };

export interface ShareScenario {
  /** Distinct client ids: one per writer to start with, the rest drawn by `rekey`. */
  readonly ids: readonly number[];
  readonly accounts: number;
  readonly stores: number;
  readonly hubGc: boolean;
  readonly storeGc: readonly boolean[];
  /** Extra writers each store follows, besides its own, its online account and meta (indexes, reduced modulo). */
  readonly extras: readonly (readonly number[])[];
  /** Writers an outside observer follows (indexes, reduced modulo). */
  readonly observed: readonly number[];
  readonly steps: readonly Step[];
}

const MAX_ACCOUNTS = 4;
const MAX_STORES = 3;
const SPARE_IDS = 4;

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('account' as const),
      account: fc.nat(MAX_ACCOUNTS - 1),
      times: fc.integer({ min: 1, max: 4 }),
      together: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('meta' as const), key: fc.nat(3) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('store' as const),
      store: fc.nat(MAX_STORES - 1),
      times: fc.integer({ min: 1, max: 4 }),
      together: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rekey' as const), writer: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('deliver' as const), store: fc.nat(MAX_STORES - 1), pick: fc.nat() }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('push' as const), store: fc.nat(MAX_STORES - 1) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('share' as const), store: fc.nat(MAX_STORES - 1) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'checkpoint' as const }) },
);

export const shareScenarioArb: fc.Arbitrary<ShareScenario> = fc
  .record({ accounts: fc.integer({ min: 1, max: MAX_ACCOUNTS }), stores: fc.integer({ min: 1, max: MAX_STORES }) })
  .chain(({ accounts, stores }) =>
    fc.record({
      // Small and large ids alike: their order decides the order of blocks and delete ranges.
      ids: fc.uniqueArray(fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 2 ** 32 - 1 })), {
        minLength: 1 + accounts + stores + SPARE_IDS,
        maxLength: 1 + accounts + stores + SPARE_IDS,
      }),
      accounts: fc.constant(accounts),
      stores: fc.constant(stores),
      hubGc: fc.boolean(),
      storeGc: fc.array(fc.boolean(), { minLength: stores, maxLength: stores }),
      extras: fc.array(fc.array(fc.nat(), { maxLength: 3 }), { minLength: stores, maxLength: stores }),
      observed: fc.array(fc.nat(), { maxLength: 4 }),
      // Long runs (not fast-check's default short arrays): gaps, pending updates and GC need many steps to appear.
      steps: fc.array(stepArb, { maxLength: 40, size: 'max' }),
    }),
  );

/** A writer: one ledger key (or, for index 0, the `meta` map) and every client id it has written under. */
interface Writer {
  readonly key: string;
  readonly ids: number[];
}

export interface StoreReplica {
  readonly index: number;
  readonly doc: Y.Doc;
  /** Its local updates in the order it made them. */
  readonly sent: Uint8Array[];
  /** Writer indexes it follows. */
  readonly follows: readonly number[];
}

export class ShareWorld {
  readonly hub: Y.Doc;
  /** Every update the hub's document emitted, in order. */
  readonly hubUpdates: Uint8Array[] = [];
  readonly stores: StoreReplica[];
  /** Index 0 writes `meta`, 1..accounts the `online:` entries, then one per store. */
  readonly writers: Writer[];
  private readonly spare: number[];
  private readonly idle: number;
  private written = 0;

  constructor(readonly scenario: ShareScenario) {
    const ids = [...scenario.ids];
    const take = (): number => {
      const id = ids.shift();
      if (id === undefined) throw new Error('scenario has too few ids');
      return id;
    };
    this.writers = [{ key: META_MAP, ids: [take()] }];
    for (let a = 0; a < scenario.accounts; a++) this.writers.push({ key: `online:s${a}`, ids: [take()] });
    for (let s = 0; s < scenario.stores; s++) this.writers.push({ key: `store:s${s}`, ids: [take()] });
    this.spare = ids;
    // The hub sits on an id no writer uses between its writes, so no update it receives looks like its own.
    this.idle = Math.max(0, ...scenario.ids) + 1;
    this.hub = new Y.Doc({ gc: scenario.hubGc });
    this.hub.clientID = this.idle;
    this.hub.on('update', (update: Uint8Array) => this.hubUpdates.push(update));
    this.stores = Array.from({ length: scenario.stores }, (_, index) => this.makeStore(index));
  }

  /** The client ids of the writers a replica follows: every id each of them has used so far. */
  clientsOf(follows: readonly number[]): Set<number> {
    return new Set(follows.flatMap((w) => this.writers[w]?.ids ?? []));
  }

  /** Writer indexes an observer follows, from raw picks. */
  writersOf(picks: readonly number[]): number[] {
    return [...new Set(picks.map((p) => p % this.writers.length))];
  }

  /** Which writer owns a ledger key or the `meta` map. */
  ownerOf(key: string): number {
    return this.writers.findIndex((w) => w.key === key);
  }

  allClients(): Set<number> {
    return this.clientsOf(this.writers.map((_, i) => i));
  }

  /** Runs one step; `checkpoint` is the caller's. */
  apply(step: Step): void {
    switch (step.kind) {
      case 'account': {
        const writer = 1 + (step.account % this.scenario.accounts);
        this.write(this.hub, writer, step.times, step.together);
        this.hub.clientID = this.idle;
        return;
      }
      case 'meta':
        this.writeMeta(step.key);
        this.hub.clientID = this.idle;
        return;
      case 'store': {
        const store = this.storeAt(step.store);
        this.write(store.doc, this.storeWriter(store.index), step.times, step.together);
        return;
      }
      case 'rekey':
        return this.rekey(step.writer % this.writers.length);
      case 'deliver': {
        const { sent } = this.storeAt(step.store);
        const update = sent[step.pick % Math.max(1, sent.length)];
        if (update !== undefined) Y.applyUpdate(this.hub, update, REMOTE);
        return;
      }
      case 'push':
        return this.push(this.storeAt(step.store));
      case 'share':
        return this.share(this.storeAt(step.store));
      case 'checkpoint':
        return;
    }
  }

  /** Everything the hub lacks of a store, as a y-protocols step 2 carries it. */
  push(store: StoreReplica): void {
    Y.applyUpdate(this.hub, Y.encodeStateAsUpdate(store.doc, Y.encodeStateVector(this.hub)), REMOTE);
  }

  /** What the store lacks of its share, as the hub would answer its step 1. */
  share(store: StoreReplica): void {
    const clients = this.clientsOf(store.follows);
    Y.applyUpdate(store.doc, encodeShare(this.hub, clients, Y.encodeStateVector(store.doc)), REMOTE);
  }

  /** Every store's writes reach the hub, then every store gets its share. */
  heal(): void {
    for (const store of this.stores) this.push(store);
    for (const store of this.stores) this.share(store);
  }

  storeWriter(index: number): number {
    return 1 + this.scenario.accounts + index;
  }

  private storeAt(pick: number): StoreReplica {
    const store = this.stores[pick % this.stores.length];
    if (store === undefined) throw new Error('no stores');
    return store;
  }

  private makeStore(index: number): StoreReplica {
    const doc = new Y.Doc({ gc: this.scenario.storeGc[index] ?? true });
    const writer = this.storeWriter(index);
    doc.clientID = this.currentId(writer);
    const account = 1 + (index % this.scenario.accounts);
    const extras = (this.scenario.extras[index] ?? []).map((p) => p % this.writers.length);
    const store: StoreReplica = { index, doc, sent: [], follows: [...new Set([writer, account, 0, ...extras])] };
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== REMOTE) store.sent.push(update);
    });
    return store;
  }

  private currentId(writer: number): number {
    const id = this.writers[writer]?.ids.at(-1);
    if (id === undefined) throw new Error(`no writer ${writer}`);
    return id;
  }

  /** The writer rewrites its whole entry `times` times, in one transaction or one each. */
  private write(doc: Y.Doc, writer: number, times: number, together: boolean): void {
    const key = this.writers[writer]?.key ?? '';
    const ledger = doc.getMap(LEDGER_MAP);
    doc.clientID = this.currentId(writer);
    const once = () => {
      const n = ++this.written;
      ledger.set(key, { [key]: { p: 3 * n, n, t: {}, reserved: n % 5, settled: n % 3 } });
    };
    if (together) doc.transact(() => Array.from({ length: times }, once));
    else for (let i = 0; i < times; i++) once();
  }

  /** `meta` keys; key 3 puts a nested map there or replaces it, which leaves GC structs behind when gc is on. */
  private writeMeta(key: number): void {
    const meta = this.hub.getMap(META_MAP);
    this.hub.clientID = this.currentId(0);
    const n = ++this.written;
    if (key === 0) meta.set('schema', 1);
    else if (key === 1) meta.set('sku', `SKU-${n}`);
    else if (key === 2) meta.set('title', `title ${n}`);
    else if (meta.get('nested') instanceof Y.Map) meta.set('nested', n);
    else {
      const nested = new Y.Map<unknown>();
      meta.set('nested', nested);
      nested.set('a', n);
      nested.set('b', { n });
    }
  }

  /** The writer moves to a fresh id; a store's document moves with it. */
  private rekey(writer: number): void {
    const id = this.spare.shift();
    if (id === undefined) return;
    this.writers[writer]?.ids.push(id);
    const store = this.stores.find((s) => this.storeWriter(s.index) === writer);
    if (store !== undefined) store.doc.clientID = id;
  }
}
