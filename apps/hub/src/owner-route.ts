import type { Sku } from '@shelfsync/protocol';
import type { HubClusterNode } from './hub-records.js';

/** Hands a call to the node that writes a SKU (the owner of its shard lease), and serves the calls handed here. */
export interface OwnerRoute {
  owns(sku: Sku): boolean;
  ask(sku: Sku, kind: string, id: string, body: unknown, timeoutMs: number): Promise<unknown>;
  serve(kind: string, handler: (id: string, body: unknown) => Promise<unknown>): void;
}

/** Calls handed to a SKU's owner as rows of the database (`OwnerRequests`). */
export function ownerRoute(cluster: HubClusterNode): OwnerRoute {
  return {
    owns: (sku) => cluster.documents.ownsSku(sku),
    ask: (sku, kind, id, body, timeoutMs) =>
      cluster.requests.ask({ id, kind, body, shard: cluster.leases.shardOf(sku) }, timeoutMs),
    serve: (kind, handler) => cluster.requests.serve(kind, (request) => handler(request.id, request.body)),
  };
}
