/**
 * An in-process chain for tests and simulations: a hub and stores on in-memory
 * storage, linked by in-memory transports, running the real sync code.
 */
export { TestHub, TestStore, recording, sku } from './chain.js';
export { shareMismatch } from './share.js';
