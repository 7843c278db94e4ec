/** What a node knows at the start of its rebalancing step. */
export interface PlanInput {
  readonly me: string;
  readonly shards: number;
  /** Nodes whose heartbeat is recent, this one included. */
  readonly alive: readonly string[];
  /** Live leases per node (expired ones count for nobody); this node's from its own renewals. */
  readonly owned: ReadonlyMap<string, number>;
}

export interface Plan {
  /** The fair share: ceil(shards / alive nodes). */
  readonly fair: number;
  /** How many unowned or expired shards to try to take. */
  readonly take: number;
  /** How many of its own shards to give up for others to take. */
  readonly release: number;
}

/**
 * Each node aims at the fair share. Below it, a node takes free shards; above
 * it, it gives up only what alive nodes below their share lack, so a balanced
 * split (every node at most fair) is stable and nothing moves for nothing.
 */
export function planRound({ me, shards, alive, owned }: PlanInput): Plan {
  const nodes = new Set(alive).add(me);
  const fair = Math.ceil(shards / nodes.size);
  const mine = owned.get(me) ?? 0;
  if (mine < fair) return { fair, take: fair - mine, release: 0 };
  let lacking = 0;
  for (const node of nodes) if (node !== me) lacking += Math.max(0, fair - (owned.get(node) ?? 0));
  return { fair, take: 0, release: Math.min(mine - fair, lacking) };
}
