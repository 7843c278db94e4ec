import { computeStock, reservableRights } from '@shelfsync/core';
import {
  AccountIdSchema,
  ReservationIdSchema,
  ReservationSchema,
  SkuSchema,
  onlineAccount,
  parseAccountId,
  type AccountId,
  type Reservation,
  type ReservationRequest,
  type Sku,
} from '@shelfsync/protocol';
import { z } from 'zod';

/** A reservation as stored: times in milliseconds since the epoch. */
export interface StoredReservation {
  readonly id: string;
  readonly sku: Sku;
  readonly location: string;
  readonly account: AccountId;
  readonly quantity: number;
  readonly state: Reservation['state'];
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly closedAt: number | null;
}

const Millis = z.int().min(0);
export const StoredSchema = z.strictObject({
  id: ReservationIdSchema,
  sku: SkuSchema,
  location: z.string(),
  account: AccountIdSchema,
  quantity: z.int().min(1),
  state: ReservationSchema.shape.state,
  createdAt: Millis,
  expiresAt: Millis,
  closedAt: Millis.nullable(),
});

export const reservationKey = (id: string): string[] => ['reservation', id];

/** The online account a reservation draws from. */
export function pickAccount(
  doc: Parameters<typeof computeStock>[0],
  request: ReservationRequest,
): { account: AccountId | null; available: number; detail: string } {
  if (request.storeId !== undefined) {
    const account = onlineAccount(request.storeId);
    const available = reservableRights(doc, account);
    return available >= request.quantity
      ? { account, available, detail: '' }
      : {
          account: null,
          available,
          detail: `${request.storeId} has ${available} of ${request.sku} available online, ${request.quantity} requested`,
        };
  }
  let best: { account: AccountId; rights: number } | null = null;
  for (const totals of Object.values(computeStock(doc).accounts)) {
    if (parseAccountId(totals.account)?.kind !== 'online') continue;
    const rights = reservableRights(doc, totals.account);
    if (best === null || rights > best.rights) best = { account: totals.account, rights };
  }
  const available = best?.rights ?? 0;
  return best !== null && best.rights >= request.quantity
    ? { account: best.account, available, detail: '' }
    : {
        account: null,
        available,
        detail: `no location has ${request.quantity} of ${request.sku} available online (at most ${available})`,
      };
}

export function view(r: StoredReservation): Reservation {
  return {
    id: r.id,
    sku: r.sku,
    location: r.location,
    quantity: r.quantity,
    state: r.state,
    createdAt: new Date(r.createdAt).toISOString(),
    expiresAt: new Date(r.expiresAt).toISOString(),
    closedAt: r.closedAt === null ? null : new Date(r.closedAt).toISOString(),
    atRisk: false,
  };
}
