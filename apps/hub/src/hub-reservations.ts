import { IdempotencyKeys, type Logger } from '@shelfsync/edge';
import type { Sku } from '@shelfsync/protocol';
import type { StorageAdapter } from '@shelfsync/storage';
import type { ChainActivity } from '@shelfsync/storefront';
import { Reservations, type HubAllocator, type HubSync } from '@shelfsync/sync';
import { randomBytes } from 'node:crypto';
import type { HubConfig } from './config.js';
import type { HubObserver } from './hub-metrics.js';
import type { HubClusterNode } from './hub-records.js';
import { ownerRoute } from './owner-route.js';
import { passing } from './hub-cluster.js';
import { ClusterReservationDesk, LocalReservationDesk, type ReservationDesk } from './reservation-desk.js';

export interface HubReservations {
  readonly reservations: Reservations;
  readonly desk: ReservationDesk;
  readonly idempotency: IdempotencyKeys;
  stop(): void;
}

/**
 * The hub's reservations and the desk that serves their HTTP calls. On a
 * cluster node the reservations follow the shard leases (held ones of a SKU
 * gained are adopted with their expiry, those of a SKU lost are left to its
 * new owner), and calls for SKUs another node owns are handed to it.
 */
export async function openHubReservations(
  config: HubConfig,
  parts: {
    adapter: StorageAdapter;
    sync: HubSync;
    allocator: HubAllocator;
    cluster: HubClusterNode | null;
    activity: ChainActivity;
    observe: HubObserver;
  },
  log: Logger,
): Promise<HubReservations> {
  const { adapter, sync, allocator, cluster, activity, observe } = parts;
  const reservations = await Reservations.open(adapter, sync.engine, allocator, {
    ttlMs: config.reservationTtlMs,
    now: Date.now,
    newId: () => `r_${randomBytes(16).toString('base64url').slice(0, 22)}`,
    onExpired: (r) => {
      observe.reservation('expired');
      activity.reservation('expired');
      log.info({ reservation: r.id, sku: r.sku, quantity: r.quantity }, 'reservation expired');
    },
    // An expiry retried while the SKU's lease moves or the database is away is expected on a cluster.
    onError: (error, what) =>
      passing(error, cluster)
        ? log.warn({ err: String(error) }, `${what} failed`)
        : log.error({ err: error }, `${what} failed`),
    escrow: config.escrow === 'on',
    ...(cluster === null ? {} : { owns: (sku: Sku) => cluster.documents.ownsSku(sku) }),
  });
  const idempotency = new IdempotencyKeys(adapter);
  const local = new LocalReservationDesk(reservations, idempotency, (outcome) => activity.reservation(outcome));
  if (cluster === null) return { reservations, desk: local, idempotency, stop: () => reservations.stop() };
  let stopped = false;
  let retry: ReturnType<typeof setTimeout> | undefined;
  // Gains come in bursts: one scan serves every shard gained before it starts. A scan that fails
  // (the database away) is tried again, or the gained SKUs' reservations would never expire here.
  const adopt = (): void => {
    reservations
      .adopt()
      .then((adopted) => adopted > 0 && log.info({ adopted }, 'held reservations adopted with their SKUs'))
      .catch((error: unknown) => {
        log.warn({ err: String(error) }, 'adopting held reservations failed: trying again in 1 s');
        if (stopped) return;
        clearTimeout(retry);
        retry = setTimeout(adopt, 1_000);
        retry.unref();
      });
  };
  const unsubscribe = cluster.onLeaseChange(({ owned }) => {
    if (owned) {
      adopt();
      return;
    }
    const dropped = reservations.disown();
    if (dropped > 0) log.info({ dropped }, 'held reservations left to the new owner of their SKUs');
  });
  // Leases taken between the first scan (in Reservations.open) and the subscription.
  adopt();
  const desk = new ClusterReservationDesk(local, ownerRoute(cluster));
  return {
    reservations,
    desk,
    idempotency,
    stop: () => {
      stopped = true;
      clearTimeout(retry);
      unsubscribe();
      reservations.stop();
    },
  };
}
