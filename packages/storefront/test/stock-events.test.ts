import type { Sku } from '@shelfsync/protocol';
import type { HubStorage } from '@shelfsync/sync';
import { describe, expect, it, vi } from 'vitest';
import {
  HEARTBEAT_TEXT,
  MAX_EVENT_BACKLOG,
  RESET_TEXT,
  RETRY_TEXT,
  StockBodies,
  StockEvents,
  StorefrontReads,
  type EventSink,
} from '../src/index.js';
import { EPOCH_TAG, manualTimers, openHub, receive, sell, sku, store } from './support/hub.js';

const EAST = store('east');
const MUG = sku('MUG-1');
const CUP = sku('CUP-1');

interface StockEvent {
  id: string;
  sku: Sku;
  available: number;
}

/** A sink that keeps what it is given, and parses the stock events among it. */
function recordingSink(): EventSink & { texts: string[]; ended: number; queued: number; events(): StockEvent[] } {
  return {
    texts: [],
    ended: 0,
    queued: 0,
    write(text) {
      this.texts.push(text);
    },
    backlog() {
      return this.queued;
    },
    end() {
      this.ended++;
    },
    events() {
      return this.texts
        .filter((t) => t.includes('event: stock'))
        .map((t) => {
          const id = /^id: (.*)$/m.exec(t)?.[1] ?? '';
          const data = JSON.parse(/^data: (.*)$/m.exec(t)?.[1] ?? 'null') as { sku: Sku; available: number };
          return { id, sku: data.sku, available: data.available };
        });
    },
  };
}

async function feedOf(storage?: HubStorage) {
  const hub = storage ?? (await openHub());
  const timers = manualTimers();
  const warnings: unknown[] = [];
  const bodies = new StockBodies(hub);
  const events = new StockEvents(hub, bodies, { log: { warn: (fields) => warnings.push(fields) }, timers });
  return { storage: hub, timers, events, bodies, warnings };
}

describe('stock events', () => {
  it('coalesces the changes of a SKU between flushes into one event at its latest state, id epoch.seq', async () => {
    const { storage, timers, events, bodies, warnings } = await feedOf();
    const sink = recordingSink();
    events.subscribe({ skus: null }, sink);
    expect(sink.texts).toEqual([RETRY_TEXT]);

    await receive(storage, MUG, EAST, 5);
    await sell(storage, MUG, EAST, 1);
    const last = await sell(storage, MUG, EAST, 1);
    const cup = await receive(storage, CUP, EAST, 2);
    // Nothing is sent before the flush.
    expect(sink.events()).toEqual([]);
    timers.flush();
    await vi.waitFor(() => expect(sink.events()).toHaveLength(2));
    expect(sink.events()).toEqual([
      { id: `${EPOCH_TAG}.${last}`, sku: MUG, available: 3 },
      { id: `${EPOCH_TAG}.${cup}`, sku: CUP, available: 2 },
    ]);
    // The data is the very body the read answers.
    const read = await new StorefrontReads(storage, bodies, { bootTag: 'b00t' }).stock(MUG);
    expect(sink.texts[1]).toBe(
      `id: ${EPOCH_TAG}.${last}\nevent: stock\ndata: ${read.notModified ? '' : read.body}\n\n`,
    );
    expect(warnings).toEqual([]);
  });

  it('sends only the SKUs a subscriber follows, and arms no flush for the others', async () => {
    const { storage, timers, events } = await feedOf();
    const sink = recordingSink();
    events.subscribe({ skus: new Set([CUP]) }, sink);
    const armed = timers.armed;
    await receive(storage, MUG, EAST, 5);
    expect(timers.armed).toBe(armed);
    const seq = await receive(storage, CUP, EAST, 1);
    timers.flush();
    await vi.waitFor(() => expect(sink.events()).toEqual([{ id: `${EPOCH_TAG}.${seq}`, sku: CUP, available: 1 }]));
  });

  it('resumes after a last event id with every SKU changed since, at its latest state, in change order', async () => {
    const storage = await openHub();
    await receive(storage, MUG, EAST, 5);
    const seen = await receive(storage, CUP, EAST, 5);
    const pot = sku('POT-1');
    const potSeq = await receive(storage, pot, EAST, 1);
    await sell(storage, MUG, EAST, 2);
    const mug = await sell(storage, MUG, EAST, 1);
    const { timers, events } = await feedOf(storage);
    const sink = recordingSink();
    events.subscribe({ skus: null, lastEventId: `${EPOCH_TAG}.${seen}` }, sink);
    timers.flush();
    await vi.waitFor(() => expect(sink.events()).toHaveLength(2));
    // CUP has not changed since: not replayed.
    expect(sink.events()).toEqual([
      { id: `${EPOCH_TAG}.${potSeq}`, sku: pot, available: 1 },
      { id: `${EPOCH_TAG}.${mug}`, sku: MUG, available: 2 },
    ]);
    expect(sink.texts.includes(RESET_TEXT)).toBe(false);
  });

  it('tells a client whose last event id is from other data (or no id) to reload, and replays nothing', async () => {
    const storage = await openHub();
    await receive(storage, MUG, EAST, 5);
    for (const lastEventId of ['other.0', `${EPOCH_TAG}.x`, `${EPOCH_TAG}.-1`, `${EPOCH_TAG}`]) {
      const { timers, events } = await feedOf(storage);
      const sink = recordingSink();
      events.subscribe({ skus: null, lastEventId }, sink);
      timers.flush();
      expect(sink.texts).toEqual([RETRY_TEXT, RESET_TEXT]);
    }
    // Without an id, a stream starts from now: no reset, no replay.
    const { timers, events } = await feedOf(storage);
    const fresh = recordingSink();
    events.subscribe({ skus: null, lastEventId: '' }, fresh);
    timers.flush();
    expect(fresh.texts).toEqual([RETRY_TEXT]);
  });

  it('keeps an idle stream open with heartbeats', async () => {
    const { timers, events } = await feedOf();
    const sink = recordingSink();
    events.subscribe({ skus: null }, sink);
    timers.beat();
    timers.beat();
    expect(sink.texts).toEqual([RETRY_TEXT, HEARTBEAT_TEXT, HEARTBEAT_TEXT]);
  });

  it('ends a stream whose client stops reading once its backlog passes the bound', async () => {
    const { storage, timers, events } = await feedOf();
    const sink = recordingSink();
    events.subscribe({ skus: null }, sink);
    sink.queued = MAX_EVENT_BACKLOG + 1;
    timers.beat();
    expect(sink.ended).toBe(1);
    expect(sink.texts).toEqual([RETRY_TEXT]);
    expect(events.size).toBe(0);
    // Unsubscribed: later commits arm nothing.
    await receive(storage, MUG, EAST, 1);
    expect(timers.armed).toBe(0);
  });

  it('stops on close, once, with its timers; closeAll ends every open stream', async () => {
    const { storage, timers, events } = await feedOf();
    const closed = recordingSink();
    const subscription = events.subscribe({ skus: null }, closed);
    await receive(storage, MUG, EAST, 1);
    subscription.close();
    subscription.close();
    expect(closed.ended).toBe(1);
    expect(timers.armed).toBe(0);

    const a = recordingSink();
    const b = recordingSink();
    events.subscribe({ skus: null }, a);
    events.subscribe({ skus: new Set([MUG]) }, b);
    expect(events.size).toBe(2);
    events.closeAll();
    expect([a.ended, b.ended, events.size, timers.armed]).toEqual([1, 1, 0, 0]);
    await receive(storage, MUG, EAST, 1);
    expect(timers.armed).toBe(0);
    expect(closed.events()).toEqual([]);
  });
});
