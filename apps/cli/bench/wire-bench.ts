import { InProcessChain, addWire, type WireCount, type WireSnapshot } from '@shelfsync/point-of-sale/testing';
import { SkuSchema } from '@shelfsync/protocol';
import { SHARE_PROTOCOL } from '@shelfsync/sync';

export interface BenchRow {
  readonly name: string;
  readonly value: string;
  readonly note: string;
}

// Names as long as a chain's: they are in every frame.
const SKU = SkuSchema.parse('SKU-00042');
/** A store's first delivery, sold out at the till before the second (enough that the escrow keeps its floor). */
const FIRST_DELIVERY = 10;
/** Units each store then receives: far more than it sells here, so no sale is refused. */
const STOCK = 1_000;
/** Virtual time between two sales: a busy till, so the allocator sees a steady velocity. */
const SALE_GAP_MS = 5_000;
/** The hub's rebalancing timer (`--escrow-rebalance-ms`, default 60 s), run on the virtual clock. */
const SWEEP_EVERY_MS = 60_000;
/** The hub's availability summary timer (`HubSyncOptions.summaryEveryMs`, default 5 s), run on the virtual clock. */
const SUMMARY_EVERY_MS = 5_000;
/** The hub's cursor timer (`HubSyncOptions.cursorEveryMs`, default 60 s): a cost per store and minute, not per sale. */
const CURSOR_EVERY_MS = 60_000;
/** The second scenario spreads the same sales over this many stores. */
const SPREAD_SELLERS = 10;

/** What one scenario put on the wire, and what the allocator did meanwhile. */
interface Scenario {
  readonly sellers: readonly string[];
  readonly others: readonly string[];
  readonly sales: number;
  /** Every store link's traffic over the scenario alone. */
  readonly wire: WireSnapshot;
  /** The allocator's events meanwhile, counted by kind (its writes and asks). */
  readonly allocator: string;
  readonly ms: number;
}

const storeIds = (n: number): string[] => Array.from({ length: n }, (_, i) => `store-${String(i).padStart(3, '0')}`);

/** A store's POS rights, read from its replica (not its read route, which would follow the SKU's availability). */
async function rightsAt(chain: InProcessChain, id: string): Promise<number> {
  return (await chain.store(id).view(SKU)).accounts[`store:${id}`]?.rights ?? 0;
}

/** Runs a POS request at a store and waits for all it causes to land; throws if it is refused. */
async function done(chain: InProcessChain, what: string, answer: Promise<{ status: number }>): Promise<void> {
  const { status } = await answer;
  if (status !== 201) throw new Error(`${what}: ${status}`);
  await chain.settle();
}

/**
 * A chain of stores that each hold the SKU, with the allocator's escrow in place
 * and every replica converged. Each store's history: a first delivery whose
 * till sells out, which the allocator refills from the escrow (a hub write, so
 * the hub's entry holds every store's online account, as after a day of
 * operation), then the delivery it sells from, of which the escrow keeps its floor.
 */
async function openChain(ids: readonly string[], protocol: number): Promise<InProcessChain> {
  const chain = await InProcessChain.open({ stores: ids, connect: false, protocol });
  try {
    // One store on line at a time, so nothing here is relayed to every store (N²
    // applies of an N-entry document: minutes at 500 stores, none of it measured).
    for (const id of ids) {
      const store = chain.store(id);
      chain.connect(id);
      await chain.settle();
      await done(chain, `${id} could not receive`, store.receive(SKU, FIRST_DELIVERY));
      await done(chain, `${id} could not sell its till`, store.sell(SKU, await rightsAt(chain, id)));
      await done(chain, `${id} could not receive again`, store.receive(SKU, STOCK));
      chain.disconnect(id);
    }
    // Then all at once: each catches up on the others in one diff.
    for (const id of ids) chain.connect(id);
    // 500 catch-ups of a 500-entry document outlast the chain's default 10 s.
    await chain.settle(600_000);
    await chain.converged([SKU]);
    // The hub's timer would have run a round by now.
    await chain.sweep();
    // One store's console shows the SKU: it follows the SKU's availability (protocol 7).
    const watcher = ids[ids.length - 1];
    if (watcher !== undefined) await chain.store(watcher).stock(SKU);
    await chain.flushAvailability();
    return chain;
  } catch (error) {
    chain.close();
    throw error;
  }
}

/** Runs `sell` with the meter around it; everything it caused has landed when it is read. */
async function metered(
  chain: InProcessChain,
  ids: readonly string[],
  sellers: readonly string[],
  sales: number,
  sell: () => Promise<void>,
): Promise<Scenario> {
  const events = chain.allocatorEvents.length;
  const before = chain.wire();
  const started = performance.now();
  await sell();
  await chain.settle(600_000);
  const ms = performance.now() - started;
  if (chain.errors.length > 0) throw new Error(`the chain failed: ${chain.errors.join('; ')}`);
  const counts = new Map<string, number>();
  for (const event of chain.allocatorEvents.slice(events)) {
    const kind = event.type === 'grant' ? `grant (${event.reason})` : event.type;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return {
    sellers,
    others: ids.filter((id) => !sellers.includes(id)),
    sales,
    wire: chain.wire(before),
    allocator: counts.size === 0 ? 'none' : [...counts].map(([kind, n]) => `${kind} ×${n}`).join(', '),
    ms,
  };
}

/** `sales` single units, one after another, round the sellers; the clock moves and the hub's timer runs between them. */
async function sellInTurn(chain: InProcessChain, sellers: readonly string[], sales: number): Promise<void> {
  let sinceSweep = 0;
  let sinceSummary = 0;
  for (let i = 0; i < sales; i++) {
    const seller = sellers[i % sellers.length] ?? '';
    const answer = await chain.store(seller).sell(SKU, 1);
    if (answer.status !== 201) throw new Error(`sale ${i} at ${seller} refused: ${answer.status}`);
    // Settles too: the sale's ack, its relays and anything the allocator did land before the next.
    await chain.advance(SALE_GAP_MS);
    sinceSweep += SALE_GAP_MS;
    sinceSummary += SALE_GAP_MS;
    if (sinceSummary >= SUMMARY_EVERY_MS) {
      sinceSummary = 0;
      await chain.flushAvailability();
    }
    if (sinceSweep >= SWEEP_EVERY_MS) {
      sinceSweep = 0;
      await chain.sweep();
    }
  }
}

const sum = (wire: WireSnapshot, ids: readonly string[], way: 'up' | 'down'): WireCount =>
  addWire(...ids.map((id) => wire.get(id)?.[way] ?? { bytes: 0, frames: 0 }));
const bytes = (n: number): string => `${n.toLocaleString('en-US', { maximumFractionDigits: n < 100 ? 1 : 0 })} B`;
const frames = (n: number): string =>
  `${n.toLocaleString('en-US', { maximumFractionDigits: 2 })} frame${n === 1 ? '' : 's'}`;

/** One row: bytes per sale on every link, then where they went. */
function row(name: string, run: Scenario, what: string): BenchRow {
  const { sellers, others, sales, wire } = run;
  const per = (count: WireCount): string => `${bytes(count.bytes / sales)} (${frames(count.frames / sales)})`;
  const up = sum(wire, sellers, 'up');
  const down = sum(wire, sellers, 'down');
  const othersDown = sum(wire, others, 'down');
  const othersUp = sum(wire, others, 'up');
  const total = addWire(up, down, othersDown, othersUp);
  const who = sellers.length === 1 ? 'seller' : `${sellers.length} sellers`;
  const split = [`${who} up ${per(up)}`, `${who} down ${per(down)}`];
  if (others.length > 0) {
    split.push(
      `the other ${others.length} stores down ${per(othersDown)}, ${bytes(othersDown.bytes / sales / others.length)} each, up ${bytes(othersUp.bytes / sales)}`,
    );
  }
  return {
    name,
    value: `${bytes(total.bytes / sales)} in ${frames(total.frames / sales)}`,
    note: `per sale: ${split.join('; ')}. ${what}; allocator: ${run.allocator}; ${(run.ms / 1000).toFixed(1)} s`,
  };
}

/**
 * The cursor message the hub's timer sends each store whose cursor moved (every
 * store, after the sales above): a cost per store and minute, whatever the
 * number of sales, so it is not counted per sale.
 */
async function cursorRow(chain: InProcessChain, ids: readonly string[]): Promise<BenchRow> {
  const before = chain.wire();
  await chain.flushCursors();
  const down = sum(chain.wire(before), ids, 'down');
  return {
    name: `wire: ${ids.length} stores, the cursor timer`,
    value: `${bytes(down.bytes / ids.length)} per store`,
    note: `${frames(down.frames / ids.length)} per store each ${CURSOR_EVERY_MS / 1000} s while changes are committed anywhere: ${(((down.bytes / ids.length) * 86_400_000) / CURSOR_EVERY_MS / 1024).toFixed(1)} KB per store a day at most`,
  };
}

/** One chain size, and the sales each of its runs makes. */
export interface WireSize {
  readonly stores: number;
  readonly sales: number;
  /** Why the runs make fewer sales than at the other sizes, for the note. */
  readonly fewer?: string;
}

/** 200 sales at each size. */
const SIZES: readonly WireSize[] = [
  { stores: 10, sales: 200 },
  { stores: 100, sales: 200 },
  { stores: 500, sales: 200 },
];

/**
 * Bytes on the wire per sale, counted on every store link of an in-process
 * chain (the hub's real services, real store nodes, real frames), at each
 * chain size: one store selling single units in turn, then as many sales
 * spread over ten stores, then one sale that empties the seller's till, which
 * the allocator refills from the escrow (a hub write).
 */
export async function runWireBench(
  sizes: readonly WireSize[] = SIZES,
  protocol: number = SHARE_PROTOCOL,
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const { stores: n, sales, fewer } of sizes) {
    const ids = storeIds(n);
    const opened = performance.now();
    const chain = await openChain(ids, protocol);
    const setup = `setup ${((performance.now() - opened) / 1000).toFixed(1)} s`;
    const count = `${sales} sales of 1 unit${fewer === undefined ? '' : ` (${fewer})`}`;
    try {
      const [seller = ''] = ids;
      const one = await metered(chain, ids, [seller], sales, () => sellInTurn(chain, [seller], sales));
      rows.push(
        row(`wire: ${n} stores hold the SKU, 1 sells`, one, `${count}, ${SALE_GAP_MS / 1000} s apart; ${setup}`),
      );

      const spread = ids.slice(0, SPREAD_SELLERS);
      const many = await metered(chain, ids, spread, sales, () => sellInTurn(chain, spread, sales));
      rows.push(
        row(
          `wire: ${n} stores hold the SKU, ${spread.length} sell`,
          many,
          `${count} round the sellers${protocol >= SHARE_PROTOCOL ? '' : "; a seller's down includes the others' sales relayed"}`,
        ),
      );

      // The seller's whole till in one sale: the allocator refills it from the escrow, a hub write.
      const rights = await rightsAt(chain, seller);
      const drain = await metered(chain, ids, [seller], 1, async () => {
        const answer = await chain.store(seller).sell(SKU, rights);
        if (answer.status !== 201) throw new Error(`the draining sale was refused: ${answer.status}`);
        // The watching console's next summary.
        await chain.flushAvailability();
      });
      rows.push(
        row(
          `wire: ${n} stores hold the SKU, a sale empties the till`,
          drain,
          `1 sale of ${rights} units, the till's rights`,
        ),
      );
      if (protocol >= SHARE_PROTOCOL) rows.push(await cursorRow(chain, ids));
    } finally {
      chain.close();
    }
  }
  return rows;
}
