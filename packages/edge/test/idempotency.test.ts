import { MemoryStorageAdapter } from '@shelfsync/storage';
import { describe, expect, it } from 'vitest';
import { IdempotencyKeys } from '../src/idempotency.js';

const HOUR = 3_600_000;

describe('idempotency answers', () => {
  it('are replayed within the retention period and forgotten after it', async () => {
    let now = 0;
    const adapter = new MemoryStorageAdapter();
    const keys = new IdempotencyKeys(adapter, () => now);
    const request = { method: 'POST', path: '/v1/sales', body: { sku: 'A', quantity: 1 } };
    let performed = 0;
    const perform = () => {
      performed++;
      return Promise.resolve({ status: 201, body: { n: performed }, recorded: false });
    };

    await keys.run('old', request, perform);
    now = 23 * HOUR;
    await keys.run('recent', request, perform);
    expect(await keys.prune(24 * HOUR)).toBe(0);
    expect(await keys.run('old', request, perform)).toMatchObject({ replayed: true, body: { n: 1 } });

    now = 24 * HOUR + 1;
    expect(await keys.prune(24 * HOUR)).toBe(1);
    expect(await keys.run('recent', request, perform)).toMatchObject({ replayed: true, body: { n: 2 } });
    // Forgotten: the same key is a new request now.
    expect(await keys.run('old', request, perform)).toMatchObject({ replayed: false, body: { n: 3 } });
  });

  it('answers stored before they carried a time get one at the first prune, and go a period later', async () => {
    let now = 10 * HOUR;
    const adapter = new MemoryStorageAdapter();
    const legacy = { fingerprint: 'f', status: 201, body: {} };
    await adapter.save(['idem', 'legacy'], new TextEncoder().encode(JSON.stringify(legacy)));
    const keys = new IdempotencyKeys(adapter, () => now);
    expect(await keys.prune(HOUR)).toBe(0);
    expect(await adapter.load(['idem', 'legacy'])).toBeDefined();
    now += HOUR + 1;
    expect(await keys.prune(HOUR)).toBe(1);
    expect(await adapter.load(['idem', 'legacy'])).toBeUndefined();
  });
});
