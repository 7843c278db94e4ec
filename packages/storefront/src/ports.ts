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

/**
 * Timers the change feed runs on: real ones in the hub, a hand-moved one in
 * tests. Each returns what cancels it.
 */
export interface FeedTimers {
  /** Runs `run` once, `ms` from now. */
  once(ms: number, run: () => void): () => void;
  /** Runs `run` every `ms`, without keeping the process alive for it. */
  every(ms: number, run: () => void): () => void;
}

/** The process's timers. */
export const systemTimers: FeedTimers = {
  once(ms, run) {
    const timer = setTimeout(run, ms);
    return () => clearTimeout(timer);
  },
  every(ms, run) {
    const timer = setInterval(run, ms);
    // A heartbeat alone must not hold the process open at exit.
    if (typeof timer === 'object' && 'unref' in timer) timer.unref();
    return () => clearInterval(timer);
  },
};
