import {
  HUB_WRITER,
  SkuSchema,
  StoreIdSchema,
  storeWriter,
  writerKey,
  type Result,
  type SchemaVersion,
  type StoreId,
  type Writer,
  type WriterKey,
} from '@shelfsync/protocol';
import * as Y from 'yjs';
import {
  applyOperation,
  applyValidatedUpdate,
  computeStock,
  createSkuDoc,
  migrateToV2,
  rightsOf,
  type Operation,
  type StockView,
  type UpdateAcceptance,
} from '../../src/index.js';
import { MemoryWriterClients } from '../../src/testing/index.js';

/** Transaction origin of updates that arrived from a peer, so they are not echoed back. */
export const REMOTE = Symbol('remote');

/** The SKU the test documents count. */
export const TEST_SKU = SkuSchema.parse('SKU-1');

/**
 * One writer's replica of a SKU document, as a store or the hub holds it, with
 * the updates it originated collected in order. A hub given `clients` writes
 * under them (version 2, or a version 1 document it will migrate) and holds the
 * neutral id between writes.
 */
export class Replica {
  doc: Y.Doc;
  readonly sent: Uint8Array[] = [];

  constructor(
    readonly writer: Writer,
    public clients?: MemoryWriterClients,
  ) {
    this.doc = this.track(this.fresh());
  }

  apply(operation: Operation) {
    return applyOperation(this.doc, this.writer, operation, null, this.clients);
  }

  /** The hub moves its document to version 2 (from now on it writes under per-key client ids). */
  migrate(clients = this.clients ?? new MemoryWriterClients()): void {
    this.clients = clients;
    const migrated = migrateToV2(this.doc, TEST_SKU, clients);
    if (!migrated.ok) throw new Error(migrated.error.detail);
  }

  stock(): StockView {
    return computeStock(this.doc);
  }

  /** A process restart that kept every update durable: same state, fresh Yjs client id. */
  restart(): void {
    const next = this.fresh();
    Y.applyUpdate(next, Y.encodeStateAsUpdate(this.doc), REMOTE);
    this.doc.destroy();
    this.doc = this.track(next);
  }

  // A hub with per-key ids keeps them over a restart (they are durable with its state) and holds the neutral one.
  private fresh(): Y.Doc {
    return this.clients === undefined ? createSkuDoc() : createSkuDoc({ clientID: this.clients.neutral });
  }

  private track(doc: Y.Doc): Y.Doc {
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== REMOTE) this.sent.push(update);
    });
    return doc;
  }
}

/**
 * One sync round between a store and the hub, as the sync protocol runs it:
 * each sends what the other lacks (y-protocols step 2); the hub validates what
 * the store sends, against `registry` (client id -> writer, as the hub's durable
 * one) when given, and records the ids it accepts there. Returns the hub's verdict.
 */
export function syncWithHub(store: Replica, hub: Replica, registry?: Map<number, WriterKey>): Result<UpdateAcceptance> {
  const toHub = Y.encodeStateAsUpdate(store.doc, Y.encodeStateVector(hub.doc));
  // The hub's own per-key ids are reserved from the start, as its registry will hold them.
  const clientOwner =
    registry === undefined ? undefined : (client: number) => registry.get(client) ?? hub.clients?.ownerOf(client);
  const verdict = applyValidatedUpdate(hub.doc, toHub, store.writer, REMOTE, clientOwner ? { clientOwner } : {});
  if (verdict.ok) for (const client of verdict.value.clients) registry?.set(client, writerKey(store.writer));
  Y.applyUpdate(store.doc, Y.encodeStateAsUpdate(hub.doc, Y.encodeStateVector(store.doc)), REMOTE);
  return verdict;
}

export function makeStores(count: number): Replica[] {
  return Array.from({ length: count }, (_, i) => new Replica(storeWriter(storeIdOf(i))));
}

/** The hub's replica; of version 2 from the start (its `meta` written) when `version` is 2. */
export function makeHub(version: SchemaVersion = 1): Replica {
  const hub = new Replica(HUB_WRITER);
  if (version === 2) hub.migrate();
  return hub;
}

export function storeIdOf(index: number): StoreId {
  return StoreIdSchema.parse(`store-${index}`);
}

/** The fast per-account rights used on the sale path agree with the full derivation. */
export function assertRightsConsistent(doc: Y.Doc): void {
  const view = computeStock(doc);
  for (const totals of Object.values(view.accounts)) {
    const fast = rightsOf(doc, totals.account);
    if (fast !== totals.rights)
      throw new Error(`rightsOf(${totals.account}) = ${fast}, computeStock says ${totals.rights}`);
  }
}

export { assertSafe } from '../../src/testing/index.js';
