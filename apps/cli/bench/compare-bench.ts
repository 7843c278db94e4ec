/**
 * The comparison: one seeded day of a chain (sales at the tills, online orders
 * for pickup, restocks) with one seeded fault schedule (every store cut off once,
 * the central system down once), run against four systems on one virtual clock:
 *
 * 1. legacy: per-store databases of absolute quantities, synchronised to a
 *    central database every 15 minutes (the current system);
 * 2. naive LWW: absolute quantities synced in real time, last writer wins;
 * 3. central CP: every sale a round trip to the centre, refused when it is out of reach;
 * 4. shelfsync: the real core (Yjs documents, operations, the hub's update
 *    validation) and the real escrow policy, synced whenever a link is up.
 *
 * A ground truth of the physical shelves sits beside them: a shopper brings a unit
 * to the till only if one is on the shelf, and an online order is picked from the
 * shelf once the store learns of it; a pick that finds the shelf short is an
 * oversold unit. The baselines are models of those designs (their message and row
 * sizes are stated below); shelfsync runs its real code, so its bytes and its
 * hub-side CPU time are measured, not assumed.
 */

export { ASSUMPTIONS } from './compare/system.js';
export { comparisonChart, comparisonTable } from './compare/report.js';
export { runComparison, type SystemResult } from './compare/runner.js';
export { defaultCompareOptions, type CompareOptions } from './compare/workload.js';
