import { WriterKeySchema, type WriterKey } from '@shelfsync/protocol';
import { RecordStore, type StorageAdapter, type StorageWrite } from '@shelfsync/storage';
import { z } from 'zod';
import { freshClientId } from './persisted-docs.js';

const PREFIX = ['hub', 'client'];
/** `own`: the hub writes under this id (its id for `writer`, a key of its own), not a store. */
const ReservationSchema = z.strictObject({ writer: WriterKeySchema, own: z.literal(true).optional() });

/** A registry record as a commit carries it: the id, its writer, and whether the hub writes under it. */
export interface ClientClaim {
  readonly client: number;
  readonly writer: WriterKey;
  readonly own: boolean;
}

/** Client ids one writer may hold: one per replica it ever had (a lost data directory starts a new replica). */
export const MAX_CLIENTS_PER_WRITER = 64;

/** A registry record as a storage write (the JSON RecordStore writes). */
function recordWrite(key: string[], value: z.infer<typeof ReservationSchema>): StorageWrite {
  return { key, data: new TextEncoder().encode(JSON.stringify(value)) };
}

/** A record's JSON, or undefined when the bytes on disk are not JSON: a damaged record is skipped, never fatal. */
function parseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}

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
  /** The ids each writer holds, in the order they were reserved. */
  private readonly byWriter = new Map<WriterKey, number[]>();
  /** Ids whose record is on disk; the others are reserved in memory, their record riding with each commit until one lands. */
  private readonly durable = new Set<number>();
  /** The id the hub writes each of its version 2 keys (`online:<location>`, `meta`) under. */
  private readonly own = new Map<WriterKey, number>();

  private constructor(
    /** Null for a registry a database keeps (`detached`): its records ride with commits only. */
    private readonly adapter: StorageAdapter | null,
  ) {}

  static async load(adapter: StorageAdapter): Promise<ClientRegistry> {
    const registry = new ClientRegistry(adapter);
    for (const chunk of await adapter.loadRange(PREFIX)) {
      const client = Number(chunk.key[2]);
      const record = ReservationSchema.safeParse(parseJson(chunk.data));
      if (!Number.isInteger(client) || !record.success) continue;
      registry.set(client, record.data.writer);
      registry.durable.add(client);
      // One own id per key: a second could only come from damaged data, and the first stays the one written under.
      if (record.data.own === true && !registry.own.has(record.data.writer))
        registry.own.set(record.data.writer, client);
    }
    return registry;
  }

  /**
   * A registry whose records a database keeps: it starts from `claims` (read
   * there), its reservations ride with commits (`reserve`, `pendingOwn`), and the
   * database's committing transaction, not this copy, decides whose an id is.
   * A commit refused there gives its reservations back (`abandon`); ids
   * committed by another process are `learn`ed in log order.
   */
  static detached(claims: Iterable<ClientClaim>): ClientRegistry {
    const registry = new ClientRegistry(null);
    for (const claim of claims) registry.learn(claim);
    return registry;
  }

  /**
   * Records a reservation the database holds already (committed by this
   * process or another). A claim that contradicts this copy wins: the database
   * is the judge.
   */
  learn({ client, writer, own }: ClientClaim): void {
    const known = this.owners.get(client);
    if (known !== undefined && known !== writer) this.forget(client);
    if (known !== writer) this.set(client, writer);
    this.durable.add(client);
    if (own && this.own.get(writer) !== client) {
      const drawn = this.own.get(writer);
      // Another process drew this key's id first: the one drawn here was never committed.
      if (drawn !== undefined && !this.durable.has(drawn)) this.forget(drawn);
      this.own.set(writer, client);
    }
  }

  /** A commit carrying `writes` was refused: its reservations not on disk are given back. */
  abandon(writes: readonly StorageWrite[]): void {
    for (const claim of ClientRegistry.claimsIn(writes).claims) {
      if (!this.durable.has(claim.client)) this.forget(claim.client);
    }
  }

  /** The registry records among `writes` (as `reserve` and `pendingOwn` make them), and the other writes. */
  static claimsIn(writes: readonly StorageWrite[]): { claims: ClientClaim[]; rest: StorageWrite[] } {
    const claims: ClientClaim[] = [];
    const rest: StorageWrite[] = [];
    for (const write of writes) {
      const client = Number(write.key[2]);
      const record =
        write.key.length === 3 && write.key[0] === PREFIX[0] && write.key[1] === PREFIX[1] && 'data' in write
          ? ReservationSchema.safeParse(parseJson(write.data))
          : undefined;
      if (record?.success === true && Number.isInteger(client)) {
        claims.push({ client, writer: record.data.writer, own: record.data.own === true });
      } else rest.push(write);
    }
    return { claims, rest };
  }

  /** Whether any id is recorded yet (a hub's data from before the registry has none). */
  get empty(): boolean {
    return this.owners.size === 0;
  }

  /** Every id reserved to `writer` (a store: one per replica it ever had). */
  idsOf(writer: WriterKey): readonly number[] {
    return this.byWriter.get(writer) ?? [];
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
    await this.storage().records.put(this.key(client), { writer: 'hub' });
    this.set(client, 'hub');
    this.durable.add(client);
  }

  /**
   * The id the hub writes its key `key` under, drawn with `draw` (until it gives
   * an id nobody holds) the first time and reserved at once in memory; its record
   * rides with every commit until one lands (`pendingOwn`). Once drawn, the same
   * id for as long as the registry lasts: an id writes one key for its whole life.
   */
  ownId(key: WriterKey, draw: (key: WriterKey) => number): number {
    const known = this.own.get(key);
    if (known !== undefined) return known;
    const client = freshClientId(
      () => draw(key),
      (taken) => this.owners.has(taken),
    );
    this.set(client, key);
    this.own.set(key, client);
    return client;
  }

  /** The id the hub writes `key` under, if it has drawn one. */
  ownIdOf(key: WriterKey): number | undefined {
    return this.own.get(key);
  }

  /** Every id the hub writes its own version 2 keys under. */
  ownIds(): ReadonlyMap<WriterKey, number> {
    return this.own;
  }

  /** The records of own ids not on disk yet: to commit with the next update (the same record twice is harmless). */
  pendingOwn(): StorageWrite[] {
    const writes: StorageWrite[] = [];
    for (const [writer, client] of this.own) {
      if (!this.durable.has(client)) writes.push(recordWrite(this.key(client), { writer, own: true }));
    }
    return writes;
  }

  /**
   * Records, durably, who wrote each id a document already holds (`owners`, read
   * from its structs): data written before the registry existed. An id already
   * recorded keeps its owner.
   */
  async adopt(owners: ReadonlyMap<number, WriterKey>): Promise<void> {
    const writes: StorageWrite[] = [];
    for (const [client, writer] of owners) {
      if (this.owners.has(client)) continue;
      this.set(client, writer);
      writes.push(recordWrite(this.key(client), { writer }));
    }
    if (writes.length > 0) await this.storage().adapter.writeBatch(writes);
    for (const [client] of owners) this.durable.add(client);
  }

  /**
   * Reserves `clients` to `writer` at once (a concurrent update of another writer
   * under one of them is refused from now on), and returns the records to commit
   * with the update that uses them: every id of this call not yet on disk, so that
   * two first updates racing in two SKUs both carry it (the same record twice is
   * harmless). An honest update brings at most one id not reserved yet (its
   * replica's own), and a writer has one per replica it ever had: past either, the
   * answer is why the update is refused, and nothing is reserved. Throws for an id
   * reserved to another writer: validation refuses those.
   */
  reserve(writer: WriterKey, clients: readonly number[]): StorageWrite[] | string {
    const fresh = clients.filter((client) => !this.owners.has(client));
    if (fresh.length > 1) return `an update may bring one new client id, this one brings ${fresh.length}`;
    if (fresh.length === 1 && this.idsOf(writer).length >= MAX_CLIENTS_PER_WRITER) {
      return `${writer} already writes under ${MAX_CLIENTS_PER_WRITER} client ids, one per replica it ever had`;
    }
    const writes: StorageWrite[] = [];
    for (const client of clients) {
      const owner = this.owners.get(client);
      if (owner !== undefined && owner !== writer) throw new Error(`client id ${client} is reserved to ${owner}`);
      if (owner === undefined) this.set(client, writer);
      if (!this.durable.has(client)) writes.push(recordWrite(this.key(client), { writer }));
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

  private storage(): { adapter: StorageAdapter; records: RecordStore } {
    if (this.adapter === null)
      throw new Error('this client-id registry is kept by a database; it writes only with commits');
    return { adapter: this.adapter, records: new RecordStore(this.adapter) };
  }

  /** Drops `client` from this copy (a reservation never committed, or overruled by the database). */
  private forget(client: number): void {
    const writer = this.owners.get(client);
    if (writer === undefined) return;
    this.owners.delete(client);
    this.durable.delete(client);
    const ids = this.byWriter.get(writer)?.filter((id) => id !== client) ?? [];
    if (ids.length === 0) this.byWriter.delete(writer);
    else this.byWriter.set(writer, ids);
    if (this.own.get(writer) === client) this.own.delete(writer);
  }

  private set(client: number, writer: WriterKey): void {
    this.owners.set(client, writer);
    const ids = this.byWriter.get(writer);
    if (ids === undefined) this.byWriter.set(writer, [client]);
    else ids.push(client);
  }

  private key(client: number): string[] {
    return [...PREFIX, String(client)];
  }
}
