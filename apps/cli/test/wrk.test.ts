import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseWrkOutput, runWrk, wrkAvailable } from '../bench/wrk.js';

// Captured from wrk 4.1.0 (Debian) with --latency.
const REPORT = `Running 8s test @ http://127.0.0.1:43475/v1/skus/API-123
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   609.28us  463.96us   1.02s    79.94%
    Req/Sec     2.05k    75.03     2.22k    73.75%
  Latency Distribution
     50%  485.00us
     75%  816.00us
     90%    1.22ms
     99%    2.12ms
  16334 requests in 8.00s, 8.99MB read
  Socket errors: connect 0, read 2, write 1, timeout 4
  Non-2xx or 3xx responses: 12
Requests/sec:   2040.78
Transfer/sec:      1.12MB
`;

describe('wrk report parsing', () => {
  it('reads percentiles, max, rate and errors in milliseconds', () => {
    expect(parseWrkOutput(REPORT)).toEqual({
      p50: 0.485,
      p99: 2.12,
      max: 1020,
      requestsPerSecond: 2040.78,
      requests: 16334,
      non2xx3xx: 12,
      socketErrors: 7,
    });
  });

  it('refuses a report without a latency distribution rather than inventing numbers', () => {
    expect(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n')).toThrow(/lacks/);
  });
});

describe('runWrk against a real server', async () => {
  const available = await wrkAvailable();
  it.skipIf(!available)('sends the scripted paths and headers at about the asked rate', async () => {
    const seen = new Map<string, number>();
    let conditional = 0;
    const server = createServer((req, res) => {
      seen.set(req.url ?? '', (seen.get(req.url ?? '') ?? 0) + 1);
      if (req.headers['if-none-match'] === '"x-0"') conditional++;
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const dir = mkdtempSync(join(tmpdir(), 'shelfsync-wrk-'));
    try {
      const result = await runWrk({
        base: `http://127.0.0.1:${address.port}`,
        paths: ['/a', '/b'],
        headers: { 'If-None-Match': '"x-0"' },
        rate: 200,
        connections: 4,
        seconds: 1,
        dir,
      });
      expect([...seen.keys()].sort()).toEqual(['/a', '/b']);
      // Every request carried the header (wrk stops with some still in flight, so counts differ by those).
      expect(conditional).toBe([...seen.values()].reduce((a, b) => a + b, 0));
      expect(Math.abs(conditional - result.requests)).toBeLessThanOrEqual(4);
      // 4 connections with 19 ms of think time each: about 200 a second, never thousands.
      expect(result.requestsPerSecond).toBeGreaterThan(100);
      expect(result.requestsPerSecond).toBeLessThan(400);
      expect(result.socketErrors).toBe(0);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
