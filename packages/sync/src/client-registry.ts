import type { WriterKey } from '@shelfsync/protocol';
import { RecordStore, type StorageAdapter, type StorageWrite } from '@shelfsync/storage';
import { z } from 'zod';

const PREFIX = ['hub', 'client'];
const WriterKeySchema = z.union([z.literal('hub'), z.templateLiteral(['store:', z.string()])]);
const ReservationSchema = z.strictObject({ writer: WriterKeySchema });

/**
 * The hub's durable registry of Yjs client ids: each id belongs to one writer
 * in every SKU document, not only in those it has written. The hub's own id is
 * reserved when the storage opens, before any store's update is judged; a
 * store's id is reserved when its first update under it is accepted, and the
 * record is committed in the same atomic batch as that update. One row per
 * replica, so the whole registry is loaded at start.
 */
export class ClientRegistry {
  private readonly owners = new Map<number, WriterKey>();
  /** Ids whose record is on disk; the others are reserved in memory, their record riding with each commit until one lands. */
  private readonly durable = new Set<number>();

  private constructor(private readonly records: RecordStore) {}

  static async load(adapter: StorageAdapter): Promise<ClientRegistry> {
    const registry = new ClientRegistry(new RecordStore(adapter));
    for (const chunk of await adapter.loadRange(PREFIX)) {
      const client = Number(chunk.key[2]);
      const record = ReservationSchema.safeParse(JSON.parse(new TextDecoder().decode(chunk.data)));
      if (!Number.isInteger(client) || !record.success) continue;
      registry.owners.set(client, record.data.writer);
      registry.durable.add(client);
    }
    return registry;
  }

  /** The writer `client` is reserved to, or undefined. */
  owner(client: number): WriterKey | undefined {
    return this.owners.get(client);
  }

  /** Reserves the hub's own id, durably, before anything else is judged. */
  async reserveHub(client: number): Promise<void> {
    const owner = this.owners.get(client);
    if (owner !== undefined && owner !== 'hub')
      throw new Error(`the hub's client id ${client} is reserved to ${owner}`);
    if (this.durable.has(client)) return;
    await this.records.put(this.key(client), { writer: 'hub' });
    this.owners.set(client, 'hub');
    this.durable.add(client);
  }

  /**
   * Reserves `clients` to `writer` at once (a concurrent update of another writer
   * under one of them is refused from now on), and returns the records to commit
   * with the update that uses them: every id of `writer` not yet on disk, so that
   * two first updates racing in two SKUs both carry it (the same record twice is
   * harmless). Throws for an id reserved to another writer: validation refuses those.
   */
  reserve(writer: WriterKey, clients: readonly number[]): StorageWrite[] {
    const writes: StorageWrite[] = [];
    for (const client of clients) {
      const owner = this.owners.get(client);
      if (owner !== undefined && owner !== writer) throw new Error(`client id ${client} is reserved to ${owner}`);
      this.owners.set(client, writer);
      if (!this.durable.has(client)) writes.push(this.records.putWrite(this.key(client), { writer }));
    }
    return writes;
  }

  /** A batch holding `writes` is durable: their reservations no longer need to ride along. */
  committed(writes: readonly StorageWrite[]): void {
    for (const write of writes) {
      if (write.key.length === 3 && write.key[0] === PREFIX[0] && write.key[1] === PREFIX[1]) {
        this.durable.add(Number(write.key[2]));
      }
    }
  }

  private key(client: number): string[] {
    return [...PREFIX, String(client)];
  }
}
