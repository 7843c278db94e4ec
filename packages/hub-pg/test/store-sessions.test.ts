import { STORE_SESSIONS_TABLE } from '@shelfsync/storage-pg';
import { skipPgTests } from '@shelfsync/storage-pg/testing';
import { describe, expect, it } from 'vitest';
import { StoreSessions } from '../src/index.js';
import { poolOn, serverPerFile, until } from './support.js';

describe.skipIf(skipPgTests())('StoreSessions: one live session per store across the nodes', () => {
  const opened: StoreSessions[] = [];
  const { fresh } = serverPerFile('sessions', async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  /** A node's claims; `replaced` records each store it was told to close, `live` the stores it serves. */
  async function node(url: string, name: string, reconcileEveryMs = 60_000) {
    const replaced: string[] = [];
    const live = new Set<string>();
    const sessions = await StoreSessions.open(url, {
      node: name,
      reconcileEveryMs,
      replaced: (store) => {
        replaced.push(store);
        live.delete(store);
      },
      live: () => [...live],
    });
    opened.push(sessions);
    const admit = async (store: string): Promise<number> => {
      live.add(store);
      return sessions.claim(store);
    };
    return { sessions, replaced, live, admit };
  }

  it('closes the older session when the store connects to another node, and only that one', async () => {
    const url = await fresh();
    const a = await node(url, 'node_a');
    const b = await node(url, 'node_b');
    expect(await a.admit('north')).toBe(1);
    expect(await a.admit('south')).toBe(1);
    expect(await b.admit('north')).toBe(2);
    await until('node a closes its north session', () => a.replaced.includes('north'));
    // The store back on node a: node b's session is the older one now.
    expect(await a.admit('north')).toBe(3);
    await until('node b closes its north session', () => b.replaced.includes('north'));
    expect(a.replaced).toEqual(['north']);
    expect(b.replaced).toEqual(['north']);
    expect([...a.live].sort()).toEqual(['north', 'south']);
  });

  it('never closes a newer session for an older claim heard late, nor one that has ended', async () => {
    const url = await fresh();
    const a = await node(url, 'node_a');
    const b = await node(url, 'node_b');
    await b.admit('north');
    const northOnA = await a.admit('north');
    await a.admit('south');
    await until('node b closes its north session', () => b.replaced.includes('north'));
    const pool = poolOn(url);
    try {
      // Node b's first claim of north (1) arrives again, late, with a payload that is no claim.
      await pool.query('SELECT pg_notify($1, $2)', [
        'store_sessions_hub',
        JSON.stringify({ store: 'north', node: 'node_b', claim: 1 }),
      ]);
      await pool.query('SELECT pg_notify($1, $2)', ['store_sessions_hub', 'not json {']);
    } finally {
      await pool.end();
    }
    // Node a's north session ends; node b's later claim of north finds nothing to close there.
    // A release of an older session of north changes nothing; this session's own release does.
    a.sessions.released('north', northOnA - 1);
    a.sessions.released('north', northOnA);
    await b.admit('north');
    // Notifications arrive in commit order: once south is closed, node a has heard all of the above.
    await b.admit('south');
    await until('node a closes its south session', () => a.replaced.includes('south'));
    expect(a.replaced).toEqual(['south']);
  });

  it('finds a claim whose notification was lost by comparing with the table', async () => {
    const url = await fresh();
    const a = await node(url, 'node_a', 100);
    await a.admit('north');
    const pool = poolOn(url);
    try {
      // Another node's claim without its notification.
      await pool.query(
        `UPDATE ${STORE_SESSIONS_TABLE} SET node = 'node_c', claim = claim + 1 WHERE store_id = 'north'`,
      );
    } finally {
      await pool.end();
    }
    await until('node a closes its north session', () => a.replaced.includes('north'));
  });
});
