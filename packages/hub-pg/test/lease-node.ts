/**
 * One hub node's shard leases in a process of its own, for tests that kill it:
 * `tsx lease-node.ts URL NODE SHARDS LEASE_MS RENEW_EVERY_MS`. Prints
 * `owned 1,2,3` after opening and after every change of what it owns.
 */
import { ShardLeases } from '../src/index.js';

const [url, node, shards, leaseMs, renewEveryMs] = process.argv.slice(2);
if (url === undefined || node === undefined) throw new Error('usage: lease-node.ts URL NODE SHARDS LEASE_MS RENEW_MS');

// Changes are heard during open, before it resolves.
const state: { leases?: ShardLeases } = {};
const print = (): void => {
  if (state.leases !== undefined) process.stdout.write(`owned ${state.leases.ownedShards().join(',')}\n`);
};
state.leases = await ShardLeases.open(url, {
  node,
  shards: Number(shards),
  leaseMs: Number(leaseMs),
  renewEveryMs: Number(renewEveryMs),
  onChange: () => queueMicrotask(print),
  onError: (error) => process.stderr.write(`${error.message}\n`),
});
print();
// The leases' timer is unref'd: this keeps the process alive until it is killed.
setInterval(print, 1_000);
