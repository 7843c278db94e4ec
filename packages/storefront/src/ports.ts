import type { HubChangeLog, HubDocuments } from '@shelfsync/sync';

/**
 * What the storefront reads from the hub: the change log (each SKU's latest
 * change, the catalog, commits as they become durable) and the SKU documents.
 * It never writes. `HubStorage` is one.
 */
export type StorefrontStorage = HubChangeLog & Pick<HubDocuments, 'open'>;

/** Where a service reports what went wrong off the request path (a pino logger is one). */
export interface WarningLog {
  warn(fields: Record<string, unknown>, message: string): void;
}
