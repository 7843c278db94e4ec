import { describe, expect, it, vi } from 'vitest';
import { HeldReservations } from '../src/held-reservations.js';
import type { StoredReservation } from '../src/reservation-records.js';

function reservation(id: string, sku = 'SKU-1', expiresAt = 10_000): StoredReservation {
  return {
    id,
    sku,
    location: 'north',
    account: 'online:north',
    quantity: 1,
    state: 'held',
    createdAt: 0,
    expiresAt,
    closedAt: null,
  } as StoredReservation;
}

/** A load the test resolves when it chooses: what a scan of the records read, while writes go on. */
function deferredLoad(): { load: () => Promise<StoredReservation[]>; answer: (found: StoredReservation[]) => void } {
  let answer: (found: StoredReservation[]) => void = () => {};
  const pending = new Promise<StoredReservation[]>((resolve) => (answer = resolve));
  return { load: () => pending, answer };
}

describe('held reservations that follow shard ownership', () => {
  it('adopts the held reservations of owned SKUs it does not hold, and arms their expiry', async () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const due: string[] = [];
      const held = new HeldReservations((r) => due.push(r.id), Date.now);
      held.add(reservation('r1'));
      const adopted = await held.adopt(
        () =>
          Promise.resolve([
            reservation('r1'),
            reservation('r2', 'SKU-2', 5_000),
            reservation('r3', 'OTHER'),
            { ...reservation('r4'), state: 'cancelled' as const },
          ]),
        (r) => r.sku !== 'OTHER',
      );
      expect(adopted).toBe(1);
      expect([...held.values()].map((r) => r.id).sort()).toEqual(['r1', 'r2']);
      await vi.advanceTimersByTimeAsync(5_000);
      expect(due).toEqual(['r2']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('never adopts back a reservation closed while the scan read, or still committing its close when it began', async () => {
    const held = new HeldReservations(() => {}, Date.now);
    held.add(reservation('committing'));
    held.add(reservation('closed-during'));
    expect(held.take('committing')).toBeDefined();
    const { load, answer } = deferredLoad();
    const scan = held.adopt(load, () => true);
    // The scan has begun: a close taken now, and one whose commit was in flight before, both read as held.
    await Promise.resolve();
    expect(held.take('closed-during')).toBeDefined();
    held.closed('committing');
    held.closed('closed-during');
    answer([reservation('committing'), reservation('closed-during'), reservation('other')]);
    expect(await scan).toBe(1);
    expect([...held.values()].map((r) => r.id)).toEqual(['other']);
  });

  it('holds again a reservation whose close was not stored, while the node still writes its SKU', () => {
    const held = new HeldReservations(() => {}, Date.now);
    const r = reservation('r1');
    held.add(r);
    held.restore(held.take('r1') ?? r, true);
    expect(held.get('r1')).toEqual(r);
    held.restore(held.take('r1') ?? r, false);
    expect(held.has('r1')).toBe(false);
  });

  it('lets a close wait for the adoption under way, and joins gains that come before a scan starts', async () => {
    const held = new HeldReservations(() => {}, Date.now);
    const loads: number[] = [];
    const { load, answer } = deferredLoad();
    const first = held.adopt(
      () => {
        loads.push(1);
        return load();
      },
      () => true,
    );
    // The first scan begins (its read pending); later gains queue behind it.
    await Promise.resolve();
    const second = held.adopt(
      () => {
        loads.push(2);
        return Promise.resolve([reservation('late')]);
      },
      () => true,
    );
    const third = held.adopt(
      () => {
        loads.push(3);
        return Promise.resolve([]);
      },
      () => true,
    );
    // Queued behind the first, the second and third are one scan.
    expect(third).toBe(second);
    let settled = false;
    const waiting = held.settledFor('late').then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    answer([]);
    await Promise.all([first, second, waiting]);
    expect(loads).toEqual([1, 2]);
    expect(held.has('late')).toBe(true);
  });

  it('drops the reservations of SKUs it no longer owns, with their timers', async () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const due: string[] = [];
      const held = new HeldReservations((r) => due.push(r.id), Date.now);
      held.add(reservation('kept', 'MINE', 1_000));
      held.add(reservation('gone', 'THEIRS', 1_000));
      expect(held.disown((r) => r.sku === 'MINE')).toBe(1);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(due).toEqual(['kept']);
    } finally {
      vi.useRealTimers();
    }
  });
});
