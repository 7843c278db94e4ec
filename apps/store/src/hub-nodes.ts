import { hubNodes } from './config.js';

/**
 * Closes that say the node itself is gone or failing (abnormal close, going
 * away, server error, restart, try again later): the next attempt goes to
 * another node. Other closes (a resync, a cut link) come from a live node.
 */
const NODE_FAILED_CODES: ReadonlySet<number> = new Set([1001, 1006, 1011, 1012, 1013]);

/**
 * Which hub node a store's link tries: the nodes `--hub` lists, in order, the
 * first one first. A node that cannot be reached or goes away sends the next
 * attempt to the next node, at once while some node has not failed since a
 * session last opened; once every node failed, the link backs off as with one.
 */
export class HubNodes {
  private readonly nodes: readonly string[];
  private index = 0;
  private failedSinceOpen = 0;

  constructor(hubUrl: string) {
    const nodes = hubNodes(hubUrl);
    this.nodes = nodes.length > 0 ? nodes : [hubUrl];
  }

  /** The node the next attempt goes to. */
  get current(): string {
    return this.nodes[this.index] ?? this.nodes[0] ?? '';
  }

  get count(): number {
    return this.nodes.length;
  }

  /** A session opened on the current node. */
  opened(): void {
    this.failedSinceOpen = 0;
  }

  /**
   * A connection ended, never opened or with `code`: moves on if the node
   * failed; says whether the next attempt should go at once, to a node not
   * tried since the last session.
   */
  closed(opened: boolean, code: number): { readonly tryAtOnce: boolean } {
    if (this.nodes.length < 2 || (opened && !NODE_FAILED_CODES.has(code))) return { tryAtOnce: false };
    this.index = (this.index + 1) % this.nodes.length;
    return { tryAtOnce: ++this.failedSinceOpen < this.nodes.length };
  }
}
