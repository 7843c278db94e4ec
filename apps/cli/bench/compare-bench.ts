/**
 * The comparison: one seeded day of a chain (sales at the tills, online orders
 * for pickup, restocks) with one seeded fault schedule (every store cut off once,
 * the central system down once), run against four systems on one virtual clock:
 *
 * 1. legacy: per-store databases of absolute quantities, synchronised to a
 *    central database every 15 minutes (the current system);
 * 2. naive LWW: absolute quantities synced in real time, last writer wins;
 * 3. central CP: every sale a round trip to the centre, refused when it is out of reach;
 * 4. shelfsync: its real hub and store nodes in one process (sync sessions,
 *    escrow allocator, reservations, point of sale) over in-memory links that
 *    carry the real encoded frames (compare/shelfsync.ts).
 *
 * A ground truth of the physical shelves sits beside them: a shopper brings a unit
 * to the till only if one is on the shelf, and an online order is picked from the
 * shelf once the store learns of it; a pick that finds the shelf short is an
 * oversold unit. The baselines are models of those designs (their message and row
 * sizes are stated in compare/system.ts); shelfsync runs its real code, so its
 * bytes (every frame both ways), its hub's CPU time and its stored bytes are
 * measured, not assumed.
 *
 * One file per part: compare/workload.ts (the seeded day and outages),
 * compare/shelves.ts (ground truth), one file per system, compare/runner.ts
 * and compare/report.ts (table and chart).
 */

export { ASSUMPTIONS } from './compare/system.js';
export { comparisonChart, comparisonTable } from './compare/report.js';
export { runComparison, type ComparisonRun, type ComparisonSettings, type SystemResult } from './compare/runner.js';
export { defaultCompareOptions, type CompareOptions } from './compare/workload.js';
