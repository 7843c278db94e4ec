import { ErrorCode } from '@shelfsync/protocol';
import { RecordStore, type StorageAdapter, type StorageWrite } from '@shelfsync/storage';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { problem } from '@shelfsync/edge';

/** A stored answer: what the first request with a key got. */
const AnswerSchema = z.strictObject({ fingerprint: z.string(), status: z.int(), body: z.unknown() });
export type StoredAnswer = z.infer<typeof AnswerSchema>;

/**
 * Idempotency keys of mutating requests. A retried request (same key, same
 * method, path and body) gets the first answer and is applied once; the same key
 * with a different request is refused; concurrent retries wait for the first.
 */
export class IdempotencyKeys {
  private readonly records: RecordStore;
  private readonly inFlight = new Map<string, Promise<StoredAnswer>>();

  constructor(adapter: StorageAdapter) {
    this.records = new RecordStore(adapter);
  }

  /**
   * Runs `perform` once per key. `perform` gets `recordWrites(status, body)`, the
   * writes that keep its answer under the key; a `perform` that stores a change
   * includes them in the change's own atomic batch and says `recorded: true`, so
   * a crash can never keep the change and lose the answer (a retry would apply
   * it twice). Otherwise the answer is stored here.
   */
  async run(
    key: string | undefined,
    request: { method: string; path: string; body: unknown },
    perform: (
      recordWrites: (status: number, body: unknown) => StorageWrite[],
    ) => Promise<{ status: number; body: unknown; recorded: boolean }>,
  ): Promise<{ status: number; body: unknown; replayed: boolean }> {
    if (key === undefined) {
      const { status, body } = await perform(() => []);
      return { status, body, replayed: false };
    }
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([request.method, request.path, request.body]))
      .digest('base64url');
    const recordKey = ['idem', createHash('sha256').update(key).digest('base64url')];
    const pending = this.inFlight.get(key);
    const earlier = pending !== undefined ? await pending : await this.records.get(recordKey, AnswerSchema);
    if (earlier !== undefined) {
      if (earlier.fingerprint !== fingerprint) {
        throw problem(ErrorCode.IdempotencyKeyReused, 'this Idempotency-Key was used for a different request');
      }
      return { status: earlier.status, body: earlier.body, replayed: true };
    }
    const work = (async () => {
      const outcome = await perform((status, body) => [
        this.records.putWrite(recordKey, { fingerprint, status, body }),
      ]);
      const answer = { fingerprint, status: outcome.status, body: outcome.body };
      // Refusals are answers too: a retry of a refused sale is refused the same way.
      if (!outcome.recorded) await this.records.put(recordKey, answer);
      return answer;
    })();
    this.inFlight.set(key, work);
    try {
      const answer = await work;
      return { status: answer.status, body: answer.body, replayed: false };
    } finally {
      this.inFlight.delete(key);
    }
  }
}
