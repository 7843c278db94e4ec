/**
 * An owner node in a process of its own, for the test of an owner that dies
 * mid-handler: it owns every shard, serves `slow` requests with a handler that
 * never finishes, and prints `ready` once it listens and `started ID` when a
 * handler starts. The test SIGKILLs it.
 * Usage: node --import tsx owner-requests-child.ts URL NODE
 */
import { OwnerRequests } from '../src/index.js';

const [url, node] = process.argv.slice(2);
if (url === undefined || node === undefined)
  throw new Error('usage: node --import tsx owner-requests-child.ts URL NODE');
const requests = await OwnerRequests.open(url, { node, owns: () => true, pollIntervalMs: 50 });
requests.serve('slow', (request) => {
  process.stdout.write(`started ${request.id}\n`);
  return new Promise(() => undefined);
});
process.stdout.write('ready\n');
// The pool's connections keep the process alive until it is killed.
