import {
  HUB_WRITER,
  StoreIdSchema,
  storeWriter,
  writerKey,
  type Result,
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
  rightsOf,
  type Operation,
  type StockView,
  type UpdateAcceptance,
} from '../../src/index.js';

/** Transaction origin of updates that arrived from a peer, so they are not echoed back. */
export const REMOTE = Symbol('remote');

/**
 * One writer's replica of a SKU document, as a store or the hub holds it, with
 * the updates it originated collected in order.
 */
export class Replica {
  doc: Y.Doc;
  readonly sent: Uint8Array[] = [];

  constructor(readonly writer: Writer) {
    this.doc = this.track(createSkuDoc());
  }

  apply(operation: Operation) {
    return applyOperation(this.doc, this.writer, operation);
  }

  stock(): StockView {
    return computeStock(this.doc);
  }

  /** A process restart that kept every update durable: same state, fresh Yjs client id. */
  restart(): void {
    const next = createSkuDoc();
    Y.applyUpdate(next, Y.encodeStateAsUpdate(this.doc), REMOTE);
    this.doc.destroy();
    this.doc = this.track(next);
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
  const clientOwner = registry === undefined ? undefined : (client: number) => registry.get(client);
  const verdict = applyValidatedUpdate(hub.doc, toHub, store.writer, REMOTE, clientOwner ? { clientOwner } : {});
  if (verdict.ok) for (const client of verdict.value.clients) registry?.set(client, writerKey(store.writer));
  Y.applyUpdate(store.doc, Y.encodeStateAsUpdate(hub.doc, Y.encodeStateVector(store.doc)), REMOTE);
  return verdict;
}

export function makeStores(count: number): Replica[] {
  return Array.from({ length: count }, (_, i) => new Replica(storeWriter(storeIdOf(i))));
}

export function makeHub(): Replica {
  return new Replica(HUB_WRITER);
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
