import type { Logger } from '@shelfsync/edge';
import { AllocatorConfigSchema } from '@shelfsync/escrow';
import { HubAllocator, type HubDocumentStore, type HubSync } from '@shelfsync/sync';
import type { HubConfig } from './config.js';
import type { HubObserver } from './hub-metrics.js';

/**
 * The escrow allocator and its rebalancing rounds. Every hub write goes
 * through the sync's engine; the allocator reads the documents and asks stores
 * through the sync. With `--escrow off` it is built (reservations still use
 * it) but neither attached nor swept.
 */
export function startEscrow(
  config: HubConfig,
  documents: HubDocumentStore,
  sync: HubSync,
  observe: HubObserver,
  log: Logger,
): { allocator: HubAllocator; stop: () => void } {
  const allocator = new HubAllocator(
    documents,
    sync.engine,
    sync,
    AllocatorConfigSchema.parse({
      horizonMs: config.escrowHorizonMs,
      halfLifeMs: config.escrowHalfLifeMs,
      minQuota: config.escrowMinQuota,
      onlineFloor: config.escrowOnlineFloor,
      onlinePooling: config.escrowOnlinePooling,
      releaseWaitMs: config.reservationReleaseWaitMs,
    }),
    Date.now,
    (event) => observe.allocatorEvent(event),
  );
  observe.watchAllocator(allocator);
  if (config.escrow !== 'on') return { allocator, stop: () => undefined };
  sync.useAllocator(allocator);
  let sweeping = false;
  const rebalanceTimer = setInterval(() => {
    // A round that outlasts the interval is not joined by another.
    if (sweeping) return;
    sweeping = true;
    allocator
      .sweep()
      .catch((error: unknown) => log.error({ err: error }, 'rebalancing failed'))
      .finally(() => (sweeping = false));
  }, config.escrowRebalanceMs);
  rebalanceTimer.unref();
  return { allocator, stop: () => clearInterval(rebalanceTimer) };
}
