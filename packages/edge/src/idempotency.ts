import { ErrorCode } from '@shelfsync/protocol';
import { RecordStore, type StorageAdapter, type StorageWrite } from '@shelfsync/storage';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { problem } from './http.js';

/** A stored answer: what the first request with a key got, and when (absent in records from before pruning). */
const AnswerSchema = z.strictObject({
  fingerprint: z.string(),
  status: z.int(),
  body: z.unknown(),
  at: z.int().min(0).optional(),
});
export type StoredAnswer = z.infer<typeof AnswerSchema>;

/**
 * Idempotency keys of mutating requests. A retried request (same key, same
 * method, path and body) gets the first answer and is applied once; the same key
 * with a different request is refused; concurrent retries wait for the first.
 */
export class IdempotencyKeys {
  private readonly records: RecordStore;
  private readonly inFlight = new Map<string, Promise<StoredAnswer>>();

  constructor(
    private readonly adapter: StorageAdapter,
    private readonly now: () => number = Date.now,
  ) {
    this.records = new RecordStore(adapter);
  }

  /**
   * Forgets answers older than `retentionMs` (a retry after that is a new
   * request), in one batch; returns how many went. Records written before
   * answers carried a time get one now and go a retention period later.
   */
  async prune(retentionMs: number): Promise<number> {
    const cutoff = this.now() - retentionMs;
    const writes: StorageWrite[] = [];
    const decoder = new TextDecoder();
    for (const chunk of await this.adapter.loadRange(['idem'])) {
      const parsed = AnswerSchema.safeParse(JSON.parse(decoder.decode(chunk.data)));
      if (!parsed.success) continue;
      if (parsed.data.at === undefined)
        writes.push(this.records.putWrite(chunk.key, { ...parsed.data, at: this.now() }));
      else if (parsed.data.at < cutoff) writes.push({ key: chunk.key, remove: true });
    }
    if (writes.length > 0) await this.adapter.writeBatch(writes);
    return writes.filter((w) => 'remove' in w).length;
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
      const at = this.now();
      const outcome = await perform((status, body) => [
        this.records.putWrite(recordKey, { fingerprint, status, body, at }),
      ]);
      const answer = { fingerprint, status: outcome.status, body: outcome.body, at };
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
