/**
 * A whole chain in one process for tests: a hub with its allocator and
 * reservations, and store nodes with their point of sale, on in-memory storage
 * and in-memory links, with a clock the test moves.
 */
export { InProcessChain, type ChainOptions } from './chain.js';
export { ChainStore, type StoreOptions, type StoreRecord, type StoreStock } from './chain-store.js';
export {
  Links,
  VirtualClock,
  addWire,
  wireSince,
  type LinkTraffic,
  type WireCount,
  type WireSnapshot,
} from './links.js';
