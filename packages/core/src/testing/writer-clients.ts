import type { WriterKey } from '@shelfsync/protocol';
import type { WriterClients } from '../version.js';

/**
 * The hub's writer client ids held in memory, each drawn at random the first
 * time it is asked for and kept for the object's life: what the hub's durable
 * registry keeps across restarts. For tests and benches.
 */
export class MemoryWriterClients implements WriterClients {
  readonly neutral: number;
  private readonly ids = new Map<WriterKey, number>();
  private readonly owners = new Map<number, WriterKey>();

  /** `random` in [0, 1), e.g. seededRandom(seed) for a run that replays. */
  constructor(private readonly random: () => number = Math.random) {
    this.neutral = this.draw();
    // The neutral id writes nothing, but no store may take it either.
    this.owners.set(this.neutral, 'hub');
  }

  idFor(key: WriterKey): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.draw();
      this.ids.set(key, id);
      this.owners.set(id, key);
    }
    return id;
  }

  /** The key an id was drawn for (`hub` for the neutral id), as the hub's registry answers. */
  ownerOf(client: number): WriterKey | undefined {
    return this.owners.get(client);
  }

  private draw(): number {
    for (;;) {
      // A uint32, as Yjs draws its own client ids.
      const id = Math.floor(this.random() * 0x1_0000_0000);
      if (!this.owners.has(id)) return id;
    }
  }
}
