import { createTransportPair, type Transport } from '@shelfsync/sync';

/** Frames sent one way on a link, and their bytes (each frame's length as handed to the transport). */
export interface WireCount {
  readonly bytes: number;
  readonly frames: number;
}

/** One link's traffic: `up` from the store to the hub, `down` from the hub to the store. */
export interface LinkTraffic {
  readonly up: WireCount;
  readonly down: WireCount;
}

/** Every link's traffic by its label (a store's id in the chain), since the links were made. */
export type WireSnapshot = ReadonlyMap<string, LinkTraffic>;

const none: WireCount = { bytes: 0, frames: 0 };

/** A count the links add to as frames are sent. */
interface Counter {
  bytes: number;
  frames: number;
}

/** Sums counts: the total of several links or directions. */
export function addWire(...counts: readonly WireCount[]): WireCount {
  return counts.reduce((sum, c) => ({ bytes: sum.bytes + c.bytes, frames: sum.frames + c.frames }), none);
}

/**
 * The traffic between two snapshots of the same links, per label: what was
 * sent after `before` was taken (a label new since then counts from zero).
 */
export function wireSince(after: WireSnapshot, before: WireSnapshot): WireSnapshot {
  const minus = (a: WireCount, b: WireCount | undefined): WireCount => ({
    bytes: a.bytes - (b?.bytes ?? 0),
    frames: a.frames - (b?.frames ?? 0),
  });
  const since = new Map<string, LinkTraffic>();
  for (const [label, traffic] of after) {
    const was = before.get(label);
    since.set(label, { up: minus(traffic.up, was?.up), down: minus(traffic.down, was?.down) });
  }
  return since;
}

/**
 * The chain's store links, as one meter: every frame sent on them and not yet
 * delivered, and every frame delivered. The chain is quiet once no frame is in
 * flight and a turn of the event loop delivers none. It also counts the bytes
 * each link carries each way (`traffic`), as a socket's bytes sent would.
 */
export class Links {
  /** Frames delivered since the chain started (never reset). */
  delivered = 0;
  /** Per live link, frames sent and not yet delivered; a closed link drops out (its frames never arrive). */
  private readonly pending = new Map<object, number>();
  /** Bytes and frames sent per label and direction; a label's reconnections add to the same counts. */
  private readonly sent = new Map<string, { up: Counter; down: Counter }>();
  private unnamed = 0;

  /**
   * A store's link to the hub: two connected in-memory transports, the store's
   * side first. With `latencyMs`, every frame and the close wait that long (real
   * time) each way, in the order they were sent, as over a WAN. Its traffic is
   * counted under `label` (the chain passes the store's id).
   */
  pair(latencyMs = 0, label = `link-${++this.unnamed}`): [Transport, Transport] {
    const [storeSide, hubSide] = createTransportPair();
    const link = {};
    this.pending.set(link, 0);
    let counts = this.sent.get(label);
    if (counts === undefined) {
      counts = { up: { bytes: 0, frames: 0 }, down: { bytes: 0, frames: 0 } };
      this.sent.set(label, counts);
    }
    return [this.end(storeSide, link, latencyMs, counts.up), this.end(hubSide, link, latencyMs, counts.down)];
  }

  /**
   * What each link carried so far, by label: a copy, so two snapshots taken
   * around a workload give its traffic (`wireSince`). A frame counts when it
   * is sent, whether or not it arrives (its link may close first).
   */
  traffic(): WireSnapshot {
    const copy = new Map<string, LinkTraffic>();
    for (const [label, { up, down }] of this.sent) copy.set(label, { up: { ...up }, down: { ...down } });
    return copy;
  }

  /** Frames sent on live links and not yet delivered. */
  get inFlight(): number {
    let frames = 0;
    for (const count of this.pending.values()) frames += count;
    return frames;
  }

  /**
   * Waits until the links are quiet: nothing in flight, and a turn of the event
   * loop (which runs every microtask the last delivery started) delivers nothing.
   */
  async settle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const before = this.delivered;
      // A delayed frame is due on a timer: wait for timers, not just for the next turn.
      if (this.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 1));
      else await new Promise((resolve) => setImmediate(resolve));
      if (this.delivered === before && this.inFlight === 0) return;
      if (Date.now() > deadline) {
        throw new Error(
          `the in-process chain did not settle within ${timeoutMs} ms (${this.inFlight} frames in flight)`,
        );
      }
    }
  }

  private end(inner: Transport, link: object, latencyMs: number, counted: Counter): Transport {
    const pending = this.pending;
    const bump = (by: number): void => {
      const count = pending.get(link);
      if (count !== undefined) pending.set(link, count + by);
    };
    let delayedBytes = 0;
    // Timers of one duration fire in the order they were set: frames keep their order.
    const later = (run: () => void): void => {
      if (latencyMs === 0) run();
      else setTimeout(run, latencyMs);
    };
    return {
      send: (frame) => {
        counted.bytes += frame.byteLength;
        counted.frames++;
        bump(1);
        delayedBytes += frame.byteLength;
        const copy = frame.slice();
        later(() => {
          delayedBytes -= copy.byteLength;
          inner.send(copy);
        });
      },
      close: (code, reason) => later(() => inner.close(code, reason)),
      get bufferedAmount() {
        return inner.bufferedAmount + delayedBytes;
      },
      onMessage: (handler) =>
        inner.onMessage((frame) => {
          this.delivered++;
          bump(-1);
          handler(frame);
        }),
      onClose: (handler) =>
        inner.onClose((code, reason) => {
          pending.delete(link);
          handler(code, reason);
        }),
    };
  }
}

/** A clock the test moves: every component of the chain reads it, none moves it. */
export class VirtualClock {
  constructor(private at = Date.UTC(2026, 0, 5, 9)) {}

  readonly now = (): number => this.at;

  advance(ms: number): void {
    this.at += ms;
  }
}
