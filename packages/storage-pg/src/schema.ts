import type { Migration } from './migrations.js';

/** The table every PgStorageAdapter of a database shares, one namespace per adapter. */
export const STORAGE_TABLE = 'storage_entries';
/** Each exclusive writer's epoch: raised by every writer that takes over (writer-fence.ts). */
export const WRITER_FENCE_TABLE = 'writer_fences';
/** Each change log's counter row: its epoch and the newest change number taken. */
export const CHANGE_HEADS_TABLE = 'change_heads';
/** Every change of every log, by number. */
export const CHANGE_LOG_TABLE = 'change_log';
/** Each change log's hub identity: the Yjs client ids every node of the cluster writes under. */
export const HUB_IDENTITY_TABLE = 'hub_identities';
/** Which writer each Yjs client id is reserved to, per log: one row per id, so two nodes cannot give it to two writers. */
export const CLIENT_OWNERS_TABLE = 'client_owners';
/** Each writer chain's head per SKU document: the next Yjs clock of a client id, checked and moved in every commit. */
export const WRITER_HEADS_TABLE = 'writer_heads';
/** Each SKU document's compacted state, up to a change number. */
export const DOC_SNAPSHOTS_TABLE = 'doc_snapshots';
/** Each hub cluster's shard count, fixed by its first node: SKUs must hash alike on every node. */
export const SHARD_CLUSTERS_TABLE = 'shard_clusters';
/** The hub nodes of each cluster and their heartbeats: who is alive, and where it serves. */
export const HUB_NODES_TABLE = 'hub_nodes';
/** Which node owns each SKU shard, under which epoch, until when (database clock). */
export const SHARD_LEASES_TABLE = 'shard_leases';
/** Requests handed to a shard's owner node, and their answers, per cluster. */
export const OWNER_REQUESTS_TABLE = 'owner_requests';
/** Which hub node serves each store's live session, under a claim number raised by each new session. */
export const STORE_SESSIONS_TABLE = 'store_sessions';
/** What each hub node reports for the chain's activity summary (refusals, reservation outcomes), per cluster. */
export const ACTIVITY_SHARES_TABLE = 'activity_shares';

/**
 * The storage schema, oldest first. A migration, once released, is never
 * edited: a change is a new one at the end.
 */
export const storageMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'storage entries',
    // key: segments joined by 0x00 (key-codec.ts); bytea compares bytes, so
    // ORDER BY key is the storage key order in any collation. The namespace is
    // only ever compared for equality; "C" keeps that a plain byte compare.
    sql: `CREATE TABLE ${STORAGE_TABLE} (
      namespace text COLLATE "C" NOT NULL,
      key bytea NOT NULL CHECK (octet_length(key) > 0),
      value bytea NOT NULL,
      PRIMARY KEY (namespace, key)
    )`,
  },
  {
    version: 2,
    name: 'writer fences',
    sql: `CREATE TABLE ${WRITER_FENCE_TABLE} (
      name text COLLATE "C" PRIMARY KEY,
      epoch bigint NOT NULL CHECK (epoch > 0)
    )`,
  },
  {
    version: 3,
    name: 'change log',
    // A committing transaction takes its number by raising `head` in its log's
    // row: the row lock serialises commits of one log, so a rolled-back commit
    // gives its number back and numbers become visible in order. The second
    // index answers "each SKU's latest change" without reading the updates.
    sql: `CREATE TABLE ${CHANGE_HEADS_TABLE} (
      log text COLLATE "C" PRIMARY KEY,
      epoch text NOT NULL,
      head bigint NOT NULL CHECK (head >= 0)
    );
    CREATE TABLE ${CHANGE_LOG_TABLE} (
      log text COLLATE "C" NOT NULL,
      seq bigint NOT NULL CHECK (seq > 0),
      sku text COLLATE "C" NOT NULL,
      at bigint NOT NULL,
      update bytea NOT NULL,
      PRIMARY KEY (log, seq)
    );
    CREATE INDEX ${CHANGE_LOG_TABLE}_latest ON ${CHANGE_LOG_TABLE} (log, sku, seq DESC) INCLUDE (at)`,
  },
  {
    version: 4,
    name: 'cluster documents',
    // Several hub nodes commit to one log. The client-id registry and the
    // writer heads turn what each node judged on its own copy into checks the
    // committing transaction makes: an id given once (and one id per hub key),
    // and one chain per id and document (a commit whose first clock is not the
    // stored head rolls back). A change records the node that committed it and
    // the ids it reserved, so the other nodes learn them in log order.
    sql: `CREATE TABLE ${HUB_IDENTITY_TABLE} (
      log text COLLATE "C" PRIMARY KEY,
      client_id bigint NOT NULL CHECK (client_id BETWEEN 0 AND 4294967295),
      neutral_client_id bigint NOT NULL CHECK (neutral_client_id BETWEEN 0 AND 4294967295)
    );
    CREATE TABLE ${CLIENT_OWNERS_TABLE} (
      log text COLLATE "C" NOT NULL,
      client bigint NOT NULL CHECK (client BETWEEN 0 AND 4294967295),
      writer text COLLATE "C" NOT NULL,
      own boolean NOT NULL DEFAULT false,
      PRIMARY KEY (log, client)
    );
    CREATE UNIQUE INDEX ${CLIENT_OWNERS_TABLE}_own ON ${CLIENT_OWNERS_TABLE} (log, writer) WHERE own;
    ALTER TABLE ${CHANGE_LOG_TABLE} ADD COLUMN node text, ADD COLUMN claims jsonb;
    CREATE TABLE ${WRITER_HEADS_TABLE} (
      log text COLLATE "C" NOT NULL,
      sku text COLLATE "C" NOT NULL,
      client bigint NOT NULL CHECK (client BETWEEN 0 AND 4294967295),
      clock bigint NOT NULL CHECK (clock >= 0),
      PRIMARY KEY (log, sku, client)
    );
    CREATE TABLE ${DOC_SNAPSHOTS_TABLE} (
      log text COLLATE "C" NOT NULL,
      sku text COLLATE "C" NOT NULL,
      upto bigint NOT NULL CHECK (upto > 0),
      state bytea NOT NULL,
      PRIMARY KEY (log, sku)
    )`,
  },
  {
    version: 5,
    name: 'shard leases',
    // Lease times are the database's clock, never a node's. `instance` tells
    // apart two processes started under one node name: the newer one wins.
    // `epoch` rises with every takeover. The unique key over it makes an
    // UPDATE that raises it take the row's FOR UPDATE lock, which waits for
    // the writes whose check holds the row FOR KEY SHARE; a renewal, which
    // moves only expires_at, does not wait for them.
    sql: `CREATE TABLE ${SHARD_CLUSTERS_TABLE} (
      cluster text COLLATE "C" PRIMARY KEY,
      shards integer NOT NULL CHECK (shards > 0),
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE ${HUB_NODES_TABLE} (
      cluster text COLLATE "C" NOT NULL,
      node text COLLATE "C" NOT NULL,
      instance text COLLATE "C" NOT NULL,
      url text,
      started_at timestamptz NOT NULL,
      heartbeat_at timestamptz NOT NULL,
      left_at timestamptz,
      PRIMARY KEY (cluster, node)
    );
    CREATE TABLE ${SHARD_LEASES_TABLE} (
      cluster text COLLATE "C" NOT NULL,
      shard integer NOT NULL CHECK (shard >= 0),
      node text COLLATE "C",
      epoch bigint NOT NULL CHECK (epoch >= 0),
      expires_at timestamptz NOT NULL,
      PRIMARY KEY (cluster, shard),
      UNIQUE (cluster, shard, epoch)
    )`,
  },
  {
    version: 6,
    name: 'owner requests',
    // A request is a row any node inserts and the shard's owner claims, answers
    // or fails. The id is the caller's, so a retry finds the first answer. The
    // partial index serves owners looking for work (pending, or claimed by a
    // node that lost the shard); the second one the removal of old answers.
    sql: `CREATE TABLE ${OWNER_REQUESTS_TABLE} (
      cluster text COLLATE "C" NOT NULL,
      id text COLLATE "C" NOT NULL CHECK (id <> ''),
      shard integer NOT NULL CHECK (shard >= 0),
      kind text COLLATE "C" NOT NULL,
      body jsonb NOT NULL,
      state text NOT NULL CHECK (state IN ('pending', 'claimed', 'answered', 'failed')),
      claimed_by text COLLATE "C",
      answer jsonb,
      error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      answered_at timestamptz,
      PRIMARY KEY (cluster, id),
      CHECK ((state IN ('answered', 'failed')) = (answered_at IS NOT NULL))
    );
    CREATE INDEX ${OWNER_REQUESTS_TABLE}_open ON ${OWNER_REQUESTS_TABLE} (cluster, shard, state)
      WHERE state IN ('pending', 'claimed');
    CREATE INDEX ${OWNER_REQUESTS_TABLE}_answered ON ${OWNER_REQUESTS_TABLE} (cluster, answered_at)
      WHERE answered_at IS NOT NULL`,
  },
  {
    version: 7,
    name: 'node store sessions',
    // Each node writes its live store sessions with every heartbeat, so any
    // node can tell operators where the stores are connected.
    sql: `ALTER TABLE ${HUB_NODES_TABLE} ADD COLUMN stores integer NOT NULL DEFAULT 0 CHECK (stores >= 0)`,
  },
  {
    version: 8,
    name: 'store sessions',
    // One live session per store across the cluster: the newest claim wins, and the node it replaced closes its own.
    sql: `
    CREATE TABLE ${STORE_SESSIONS_TABLE} (
      cluster text NOT NULL,
      store_id text NOT NULL,
      node text NOT NULL,
      claim bigint NOT NULL CHECK (claim > 0),
      claimed_at timestamptz NOT NULL,
      PRIMARY KEY (cluster, store_id)
    )`,
  },
  {
    version: 9,
    name: 'activity shares',
    // Each node rewrites its own row; every node sums the rows, so /v1/summary answers alike on each.
    sql: `
    CREATE TABLE ${ACTIVITY_SHARES_TABLE} (
      cluster text NOT NULL,
      node text NOT NULL,
      share jsonb NOT NULL,
      updated_at timestamptz NOT NULL,
      PRIMARY KEY (cluster, node)
    )`,
  },
];
