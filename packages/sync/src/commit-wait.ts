import type { Sku } from '@shelfsync/protocol';
import type * as Y from 'yjs';
import type { HubDocuments } from './hub-sync.js';

/**
 * Resolves true once `test` holds of the SKU's document (looked at now and after
 * each of its commits), false after `waitMs` or once `signal` aborts.
 */
export function untilCommitted(
  documents: Pick<HubDocuments, 'open' | 'onCommit'>,
  sku: Sku,
  test: (doc: Y.Doc) => boolean,
  waitMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve(false);
      return;
    }
    let settled = false;
    const finish = (value: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stop();
      signal?.removeEventListener('abort', aborted);
      resolve(value);
    };
    const check = (): void => {
      documents.open(sku).then(
        (doc) => {
          if (test(doc)) finish(true);
        },
        () => finish(false),
      );
    };
    const aborted = (): void => finish(false);
    signal?.addEventListener('abort', aborted);
    const timer = setTimeout(() => finish(false), waitMs);
    timer.unref?.();
    // Listening before the first look, so a commit between the two is not missed.
    const stop = documents.onCommit((committed) => {
      if (committed === sku) check();
    });
    check();
  });
}
