import type { Logger } from '@shelfsync/edge';
import { ActivityShares } from '@shelfsync/hub-pg';
import type { ChainSummary } from '@shelfsync/protocol';
import { ActivityShareSchema, type ActivityShare, type ChainActivity } from '@shelfsync/storefront';
import type { HubConfig } from './config.js';
import type { HubClusterNode } from './hub-records.js';

/** How often a node publishes its own reports and reads the others'. */
const EVERY_MS = 1_000;

/** GET /v1/summary's answer, and what keeps it cluster-wide. */
export interface HubActivity {
  summary(): ChainSummary;
  close(): Promise<void>;
}

/**
 * The chain summary of a hub. On a cluster node, the sales of every store are
 * read from every change (the other nodes' too, from the feed), and the
 * refusals and reservation outcomes each node saw are shared through the
 * database within a second, so every node answers the same summary.
 */
export async function openHubActivity(
  config: HubConfig,
  cluster: HubClusterNode | null,
  activity: ChainActivity,
  log: Logger,
): Promise<HubActivity> {
  if (cluster === null || config.database === undefined) {
    return { summary: () => activity.summary(), close: () => Promise.resolve() };
  }
  const stopHearing = cluster.storeUpdates.listen((storeId, sku, update) =>
    activity.onSyncEvent({ type: 'accepted', storeId, sku, bytes: update.byteLength }),
  );
  const shares = await ActivityShares.open(config.database, {
    node: cluster.node,
    onError: (error) => log.warn({ err: error.message }, 'activity shares: a database connection failed'),
  });
  let others: ActivityShare[] = [];
  let published = '';
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void (async () => {
      const share = JSON.stringify(activity.share());
      if (share !== published) {
        await shares.publish(share);
        published = share;
      }
      others = (await shares.others()).flatMap((stored) => {
        const parsed = ActivityShareSchema.safeParse(stored);
        return parsed.success ? [parsed.data] : [];
      });
    })()
      .catch((error: unknown) => log.warn({ err: error }, 'sharing the chain activity failed'))
      .finally(() => (running = false));
  }, EVERY_MS);
  timer.unref();
  return {
    summary: () => activity.summary(others),
    close: async () => {
      clearInterval(timer);
      stopHearing();
      await shares.close();
    },
  };
}
