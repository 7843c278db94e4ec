import { createTransportPair, type Transport } from '@shelfsync/sync';

/**
 * The chain's store links, as one meter: every frame sent on them and not yet
 * delivered, and every frame delivered. The chain is quiet once no frame is in
 * flight and a turn of the event loop delivers none.
 */
export class Links {
  /** Frames delivered since the chain started (never reset). */
  delivered = 0;
  /** Per live link, frames sent and not yet delivered; a closed link drops out (its frames never arrive). */
  private readonly pending = new Map<object, number>();

  /**
   * A store's link to the hub: two connected in-memory transports. With
   * `latencyMs`, every frame and the close wait that long (real time) each way,
   * in the order they were sent, as over a WAN.
   */
  pair(latencyMs = 0): [Transport, Transport] {
    const [storeSide, hubSide] = createTransportPair();
    const link = {};
    this.pending.set(link, 0);
    return [this.end(storeSide, link, latencyMs), this.end(hubSide, link, latencyMs)];
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

  private end(inner: Transport, link: object, latencyMs: number): Transport {
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
