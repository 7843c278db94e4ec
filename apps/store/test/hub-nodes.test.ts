import { describe, expect, it } from 'vitest';
import { StoreConfigSchema, hubNodes } from '../src/config.js';
import { HubNodes } from '../src/hub-nodes.js';

const A = 'ws://10.0.0.1:8080';
const B = 'ws://10.0.0.2:8080';
const C = 'wss://hub-c.example:443';

describe('the hub nodes a store is given', () => {
  it('lists the comma-separated addresses in order, spaces and empty parts ignored', () => {
    expect(hubNodes(`${A}, ${B},,${C} `)).toEqual([A, B, C]);
    expect(hubNodes(A)).toEqual([A]);
  });

  it('moves on from a node that failed, at once until each node failed since the last session', () => {
    const nodes = new HubNodes(`${A},${B},${C}`);
    expect(nodes.current).toBe(A);
    expect(nodes.closed(false, 1006)).toEqual({ tryAtOnce: true });
    expect(nodes.current).toBe(B);
    expect(nodes.closed(true, 1001)).toEqual({ tryAtOnce: true });
    expect(nodes.current).toBe(C);
    // Every node failed: the link backs off, still going round.
    expect(nodes.closed(false, 1006)).toEqual({ tryAtOnce: false });
    expect(nodes.current).toBe(A);
    expect(nodes.closed(false, 1006)).toEqual({ tryAtOnce: false });
    expect(nodes.current).toBe(B);
    nodes.opened();
    expect(nodes.closed(true, 1012)).toEqual({ tryAtOnce: true });
    expect(nodes.current).toBe(C);
  });

  it('stays on a live node that closed the session for a reason of its own', () => {
    const nodes = new HubNodes(`${A},${B}`);
    nodes.opened();
    // A resync (4422) or a policy close comes from a node that is up.
    expect(nodes.closed(true, 4422)).toEqual({ tryAtOnce: false });
    expect(nodes.closed(true, 1000)).toEqual({ tryAtOnce: false });
    expect(nodes.current).toBe(A);
  });

  it('with one node, never says to try at once', () => {
    const nodes = new HubNodes(A);
    expect(nodes.closed(false, 1006)).toEqual({ tryAtOnce: false });
    expect(nodes.current).toBe(A);
  });

  it('refuses a --hub list with an address that is no ws:// or wss:// URL', () => {
    const base = { id: 'north', port: 0, dataDir: '/tmp/x', token: 't' };
    expect(StoreConfigSchema.safeParse({ ...base, hubUrl: `${A},${B}` }).success).toBe(true);
    const bad = StoreConfigSchema.safeParse({ ...base, hubUrl: `${A},http://10.0.0.2:8080` });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain('ws:// or wss://');
    expect(StoreConfigSchema.safeParse({ ...base, hubUrl: ' , ' }).success).toBe(false);
    expect(StoreConfigSchema.safeParse({ ...base, hubUrl: `${A},not a url` }).success).toBe(false);
  });
});
