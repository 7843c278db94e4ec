import { keyIdOf, signStoreToken } from '@shelfsync/hub';
import { StoreIdSchema } from '@shelfsync/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Cluster, eventually, get, metric, post } from './support/cluster.js';

const NEXT = 'the-next-hub-secret-0123456789';

interface HubView {
  connected: boolean;
  problem: { kind: string; status: number | null; detail: string; nextAttemptAt: string | null } | null;
  tokenExpiresAt: string | null;
}

describe('store credentials: expiry, key rotation, revocation, API token rotation', () => {
  const cluster = new Cluster({ escrow: 'off' });
  const hub = (): string => cluster.hub?.url ?? '';
  const auth = (token = cluster.apiToken): Record<string, string> => ({ authorization: `Bearer ${token}` });
  const view = async (id: string): Promise<HubView> => (await get(cluster.store(id), '/v1/status')).body.hub as HubView;
  const refusals = async (reason: string): Promise<number> =>
    metric(await (await fetch(`${hub()}/metrics`)).text(), 'shelfsync_store_auth_refused_total', { reason }) ?? 0;
  /** Replaces a store's token file; the store reads it before its next attempt, and at once while refused. */
  const giveToken = (id: string, secret: string, ttlMs?: number): string =>
    cluster.secretFileOf(
      `${id}.token`,
      signStoreToken(StoreIdSchema.parse(id), secret, ttlMs === undefined ? {} : { ttlMs }),
    );
  /** The answer to an upgrade with `token`: 101, or the refusal's status and WWW-Authenticate. */
  const upgrade = (token: string): Promise<{ status: number; authenticate: string }> =>
    new Promise((resolve) => {
      const socket = new WebSocket(`${hub().replace('http', 'ws')}/v1/sync`, {
        headers: { authorization: `Bearer ${token}` },
      });
      socket.on('open', () => {
        socket.terminate();
        resolve({ status: 101, authenticate: '' });
      });
      socket.on('unexpected-response', (_req, res) => {
        resolve({ status: res.statusCode ?? 0, authenticate: String(res.headers['www-authenticate'] ?? '') });
        socket.terminate();
      });
      socket.on('error', () => {});
    });

  beforeAll(async () => {
    await cluster.startHub();
    await cluster.startStore('north');
    await eventually(() => view('north'), { connected: true, problem: null });
  }, 60_000);
  afterAll(() => cluster.stop(), 30_000);

  it('a rotated secret keeps old tokens valid until its key is retired, which closes their sessions with 4401', async () => {
    const oldKid = keyIdOf(cluster.secret);
    const added = await post(hub(), '/v1/admin/keys', { secret: NEXT }, undefined, auth());
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ kid: keyIdOf(NEXT), source: 'added', state: 'active', verifies: true });
    const listed = await fetch(`${hub()}/v1/admin/keys`, { headers: auth() });
    const text = await listed.text();
    expect(text).not.toContain(NEXT);
    expect(text).not.toContain(cluster.secret);
    expect((JSON.parse(text) as { keys: { kid: string; state: string }[] }).keys).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kid: oldKid, source: 'config', state: 'active' }),
        expect.objectContaining({ kid: keyIdOf(NEXT), state: 'active' }),
      ]),
    );
    expect((await post(hub(), '/v1/admin/keys', { secret: NEXT })).status).toBe(401);

    // A store on the new key connects; the store on the old key stays connected.
    await cluster.startStore('west', { tokenFile: giveToken('west', NEXT) });
    await eventually(() => view('west'), { connected: true });
    expect(await view('north')).toMatchObject({ connected: true });
    // A probe of its own: a connection with north's token would replace north's session.
    const oldToken = cluster.token('probe');
    expect((await upgrade(oldToken)).status).toBe(101);

    const retired = await post(hub(), `/v1/admin/keys/${oldKid}/retire`, {}, undefined, auth());
    expect(retired.status).toBe(200);
    expect(retired.body).toMatchObject({ kid: oldKid, state: 'retired', verifies: false });
    await eventually(() => view('north'), { connected: false, problem: { kind: 'unauthorized', status: 4401 } });
    expect(await view('west')).toMatchObject({ connected: true });
    expect(await upgrade(oldToken)).toEqual({
      status: 401,
      authenticate: expect.stringContaining('retired-key') as unknown,
    });
    // A token of the earlier format, without expiry, is refused as such.
    const legacy = `ss1.${Buffer.from(JSON.stringify({ sub: 'probe', iat: 1 })).toString('base64url')}.x`;
    expect(await upgrade(legacy)).toEqual({ status: 401, authenticate: expect.stringContaining('legacy') as unknown });
    // The last active key cannot go: every store would be locked out.
    const last = await post(hub(), `/v1/admin/keys/${keyIdOf(NEXT)}/retire`, {}, undefined, auth());
    expect(last.status).toBe(400);

    // A new token dropped into north's token file is used at once, without a restart.
    giveToken('north', NEXT);
    await eventually(() => view('north'), { connected: true, problem: null });
  }, 90_000);

  it('a revoked store is closed with 4401, says why, and does not retry in a loop; an expired token closes at exp', async () => {
    const revoked = await post(hub(), '/v1/admin/stores/west/revoke', {}, undefined, auth());
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ storeId: 'west', closedSessions: 1 });
    await eventually(() => view('west'), { connected: false, problem: { kind: 'unauthorized', status: 4401 } });
    const westProblem = (await view('west')).problem;
    expect(westProblem?.detail).toContain('token revoked');
    // The next attempt is minutes away, not seconds.
    expect(Date.parse(westProblem?.nextAttemptAt ?? '') - Date.now()).toBeGreaterThan(60_000);

    // Meanwhile (the window in which west must stay quiet): a store whose short token (20 s, room for a slow start) expires mid-session.
    await cluster.startStore('east', { tokenFile: giveToken('east', NEXT, 20_000) });
    await eventually(() => view('east'), { connected: true });
    expect((await view('east')).tokenExpiresAt).not.toBeNull();
    await eventually(
      () => view('east'),
      { connected: false, problem: { kind: 'token-expired', status: 4401 } },
      45_000,
    );
    expect((await view('east')).problem?.detail).toContain('token expired');
    // An expired token is never sent, and the revoked store tried at most a couple of times.
    expect(await refusals('expired')).toBe(0);
    expect(await refusals('revoked')).toBeLessThanOrEqual(2);
    expect(await view('west')).toMatchObject({ connected: false, problem: { kind: 'unauthorized' } });

    // Tokens issued after the revocation work.
    giveToken('west', NEXT);
    giveToken('east', NEXT);
    await eventually(() => view('west'), { connected: true, problem: null });
    await eventually(() => view('east'), { connected: true, problem: null });
  }, 120_000);

  it('several API tokens are valid at once, and one is retired by removing its line', async () => {
    const next = 'the-next-api-token-0123456789';
    const keys = async (token: string): Promise<number> =>
      (await fetch(`${hub()}/v1/admin/keys`, { headers: auth(token) })).status;
    expect(await keys(next)).toBe(401);
    cluster.secretFileOf('api-tokens', `# rotation: both valid\n${cluster.apiToken}\n${next}\n`);
    await eventually(() => keys(next), 200);
    expect(await keys(cluster.apiToken)).toBe(200);
    cluster.secretFileOf('api-tokens', `${next}\n`);
    await eventually(() => keys(cluster.apiToken), 401);
    expect(await keys(next)).toBe(200);
  }, 60_000);
});
