/**
 * Test helpers for packages that build on the core: forged updates the hub must
 * refuse, and the invariant checks every replica must pass. Not for production code.
 */
export {
  assertAcceptedEffect,
  capture,
  clientOf,
  copyOf,
  forge,
  forgeryKinds,
  type ForgeryKind,
  type ForgeryParties,
} from './forge.js';
export { assertSafe } from './invariants.js';
export { MemoryWriterClients } from './writer-clients.js';
