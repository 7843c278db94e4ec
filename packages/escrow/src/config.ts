import { z } from 'zod';

const HOUR = 3_600_000;

/**
 * The allocator's parameters. Every field has a default; a deployment changes
 * what it must (validated at start, refused with the field named).
 */
export const AllocatorConfigSchema = z.strictObject({
  /**
   * How long a store should be able to keep selling with the hub unreachable, at
   * its current sales velocity: its POS quota targets velocity × horizon.
   */
  horizonMs: z
    .int()
    .min(60_000)
    .max(7 * 24 * HOUR)
    .default(4 * HOUR),
  /** Half-life of the sales-velocity estimate: how fast it forgets old sales. */
  halfLifeMs: z
    .int()
    .min(1_000)
    .max(7 * 24 * HOUR)
    .default(HOUR),
  /**
   * The POS's need whatever its velocity: under a scarce shelf it is split in
   * proportion to this (at least) and the online need.
   */
  minQuota: z.int().min(0).max(1_000_000).default(2),
  /** Per-SKU minimums, replacing `minQuota` for those SKUs. */
  minQuotaBySku: z.record(z.string(), z.int().min(0).max(1_000_000)).default({}),
  /**
   * The share of a location's online-demand estimate taken from the SKU's
   * chain-wide online orders spread over the locations that carry it (the rest is
   * the location's own): 0 trusts each location alone, 1 treats them all alike.
   */
  onlinePooling: z.number().min(0).max(1).default(0.5),
  /** Units a location's online escrow keeps beyond its online velocity × horizon. */
  onlineFloor: z.int().min(0).max(1_000_000).default(1),
  /** An online escrow below this share of its target asks its store to release up to it. */
  lowWatermark: z.number().gt(0).max(1).default(0.5),
  /** An online escrow above this multiple of its target gives the surplus to the POS. */
  highWatermark: z.number().min(1).max(100).default(2),
  /** How long a sale beyond a store's rights waits for a top-up while the hub is reachable. */
  topUpWaitMs: z.int().min(0).max(10_000).default(250),
  /**
   * How long an online reservation the location's escrow cannot cover waits for
   * the connected store to release what it lacks from its POS rights.
   */
  releaseWaitMs: z.int().min(0).max(30_000).default(2_000),
});
export type AllocatorConfig = z.infer<typeof AllocatorConfigSchema>;

/** The defaults, as a full configuration. */
export const defaultAllocatorConfig: AllocatorConfig = AllocatorConfigSchema.parse({});
