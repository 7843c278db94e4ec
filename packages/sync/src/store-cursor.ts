import { ChangeCursor } from './sent-changes.js';
import type { StoreDocuments } from './store-sync.js';

/** How many changes the cursor may move before it is saved again. */
const CURSOR_SAVE_EVERY = 64;

/**
 * A store's hub change cursor over one connection. Every change after the
 * welcome reaches the store exactly once: relayed with its number, for its own
 * in the acknowledgement, or (holding only its share) named by a `cursor`
 * message or `ack.cursor` once every change of its share up to it was sent. It
 * moves over the numbers seen without a gap and, once the store is caught up,
 * is saved every CURSOR_SAVE_EVERY changes and on close, so the next reconnect
 * exchanges only what changed after it.
 */
export class SessionCursor {
  private cursor = new ChangeCursor();
  /** The hub's epoch, from when the store is caught up: before that the cursor is not the store's to keep. */
  private epoch: string | null = null;

  constructor(
    private readonly documents: Pick<StoreDocuments, 'saveCursor'>,
    private readonly protocol: number,
    /** The cursor moved while caught up (the store's sync status). */
    private readonly synced: (cursor: number) => void,
  ) {}

  get current(): number {
    return this.cursor.current;
  }

  /** The welcome's cursor: every change up to it is the catch-up's. */
  welcomed(cursor: number): void {
    this.cursor = new ChangeCursor(cursor);
  }

  /** A change number seen (relayed, or acknowledged). */
  async note(change: number): Promise<void> {
    if (this.cursor.note(change)) await this.moved();
  }

  /** The hub has sent every change of this store's share up to `change`. */
  async advanceTo(change: number): Promise<void> {
    if (this.cursor.advanceTo(change)) await this.moved();
  }

  /** The catch-up is done: the cursor is this store's from now on, saved at once. */
  async caughtUp(epoch: string): Promise<void> {
    this.epoch = epoch;
    await this.documents.saveCursor(epoch, this.cursor.save(), this.protocol);
    this.synced(this.cursor.current);
  }

  /** The connection closes: whatever the cursor gained since it was saved is kept; `failed` hears why not. */
  closing(failed: (error: unknown) => void): void {
    if (this.epoch !== null && this.cursor.unsaved > 0) {
      this.documents.saveCursor(this.epoch, this.cursor.save(), this.protocol).catch(failed);
    }
  }

  private async moved(): Promise<void> {
    if (this.epoch === null) return;
    this.synced(this.cursor.current);
    // Saved every CURSOR_SAVE_EVERY changes, not each one: a cursor that lags
    // after a crash only means a slightly larger catch-up.
    if (this.cursor.unsaved >= CURSOR_SAVE_EVERY)
      await this.documents.saveCursor(this.epoch, this.cursor.save(), this.protocol);
  }
}
