import { Session } from 'node:inspector/promises';
import type { StorageAdapter } from '@shelfsync/storage';

/** Whose work a CPU sample was: the hub's, a store's, the bench's own (workload, meter), or code both share. */
export type Side = 'hub' | 'store' | 'bench' | 'shared';

/** Sample counts by side over a profiled span, and the process CPU time it took. */
export interface CpuSplit {
  readonly samples: Readonly<Record<Side, number>>;
  /** User + system CPU time of the process over the span, in microseconds. */
  readonly cpuMicros: number;
}

/** The hub's share of the chain's CPU: its own samples, plus shared ones in proportion to hub and store samples. */
export function hubCpuMicros(split: CpuSplit): number {
  const { hub, store, bench, shared } = split.samples;
  const active = hub + store + bench + shared;
  if (active === 0) return 0;
  const hubOfShared = hub + store === 0 ? 0 : (shared * hub) / (hub + store);
  return (split.cpuMicros * (hub + hubOfShared)) / active;
}

const HUB_FILES =
  /\/packages\/sync\/src\/(hub-[a-z-]+|reservations|demand-book|commit-wait|client-registry|location-shelf)\.ts/;
const STORE_FILES = /\/packages\/sync\/src\/(store-[a-z-]+|top-up)\.ts|\/packages\/point-of-sale\//;
const HUB_STORAGE = new Set(['commit', 'hubWrite', 'readDurable', 'clientOwner', 'reserveClients', 'changedSince']);
const STORE_STORAGE = new Set(['recordLocal', 'applyRemote', 'markClean', 'dirty', 'loadCursor', 'saveCursor']);

/** The side one stack frame belongs to, or null for code both sides run (Yjs, core, storage, frames). */
function sideOf(url: string, name: string): Side | null {
  if (HUB_FILES.test(url)) return 'hub';
  if (STORE_FILES.test(url)) return 'store';
  if (url.endsWith('/persistent-documents.ts')) {
    if (HUB_STORAGE.has(name)) return 'hub';
    if (STORE_STORAGE.has(name)) return 'store';
    return null;
  }
  // The adapters' wrappers (below) name their side; the rest of the bench is its own.
  if (url.includes('/bench/compare/'))
    return name.startsWith('hubAdapter') ? 'hub' : name.startsWith('storeAdapter') ? 'store' : 'bench';
  return null;
}

/**
 * Names an adapter's calls after its side, so the profile can tell the hub's
 * storage work from a store's (the adapter class is the same). Each wrapper is
 * its own function literal: V8 names a function by its literal, not by the key
 * it is stored under at run time.
 */
export function sided<A extends StorageAdapter>(adapter: A, side: 'hub' | 'store'): A {
  const load = adapter.load.bind(adapter);
  const loadRange = adapter.loadRange.bind(adapter);
  const keys = adapter.keys.bind(adapter);
  const writeBatch = adapter.writeBatch.bind(adapter);
  type Calls = Pick<StorageAdapter, 'load' | 'loadRange' | 'keys' | 'writeBatch'>;
  const calls: Calls =
    side === 'hub'
      ? {
          load: function hubAdapterLoad(key) {
            return load(key);
          },
          loadRange: function hubAdapterLoadRange(prefix) {
            return loadRange(prefix);
          },
          keys: function hubAdapterKeys(prefix) {
            return keys(prefix);
          },
          writeBatch: function hubAdapterWriteBatch(writes) {
            return writeBatch(writes);
          },
        }
      : {
          load: function storeAdapterLoad(key) {
            return load(key);
          },
          loadRange: function storeAdapterLoadRange(prefix) {
            return loadRange(prefix);
          },
          keys: function storeAdapterKeys(prefix) {
            return keys(prefix);
          },
          writeBatch: function storeAdapterWriteBatch(writes) {
            return writeBatch(writes);
          },
        };
  return Object.assign(adapter, calls);
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children?: readonly number[];
}

/**
 * Samples the process's JavaScript stacks (V8's CPU profiler, every 500 µs)
 * over a span and tells the samples apart by the innermost frame that belongs
 * to one side: hub code (sessions, allocator, reservations, the hub's storage
 * calls), store code (sessions, point of sale, the store's storage calls), or
 * the bench. Samples with no such frame (Yjs and core work reached from shared
 * code, garbage collection) are shared.
 */
export class CpuProfile {
  private readonly session = new Session();
  private cpuStart: NodeJS.CpuUsage = process.cpuUsage();

  async start(): Promise<void> {
    this.session.connect();
    await this.session.post('Profiler.enable');
    await this.session.post('Profiler.setSamplingInterval', { interval: 500 });
    await this.session.post('Profiler.start');
    this.cpuStart = process.cpuUsage();
  }

  async stop(): Promise<CpuSplit> {
    const usage = process.cpuUsage(this.cpuStart);
    const { profile } = await this.session.post('Profiler.stop');
    this.session.disconnect();
    const nodes = profile.nodes as ProfileNode[];
    const parent = new Map<number, number>();
    for (const node of nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    const byId = new Map(nodes.map((node) => [node.id, node]));
    const sideOfNode = new Map<number, Side | 'idle'>();
    const classify = (id: number): Side | 'idle' => {
      const known = sideOfNode.get(id);
      if (known !== undefined) return known;
      const node = byId.get(id);
      let side: Side | 'idle' = 'shared';
      if (node !== undefined) {
        const { functionName, url } = node.callFrame;
        const own = functionName === '(idle)' ? 'idle' : sideOf(url, functionName);
        const up = parent.get(id);
        side = own ?? (up === undefined ? 'shared' : classify(up));
      }
      sideOfNode.set(id, side);
      return side;
    };
    const samples: Record<Side, number> = { hub: 0, store: 0, bench: 0, shared: 0 };
    for (const id of profile.samples ?? []) {
      const side = classify(id);
      if (side !== 'idle') samples[side]++;
    }
    return { samples, cpuMicros: usage.user + usage.system };
  }
}
