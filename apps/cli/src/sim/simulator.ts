import { checkHistory, type FinalSku, type HistoryEvent, type OperationKind, type Verdict } from '@shelfsync/checker';
import { signStoreToken } from '@shelfsync/hub';
import { StoreIdSchema, seededRandom, type StoreId } from '@shelfsync/protocol';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startHubProcess, startStoreProcess, writeSecretFile, type ChildCommand } from '../processes.js';
import { TcpProxy } from '../tcp-proxy.js';
import type { FaultStep } from './scenarios.js';
import { LinkCuts, parseRefusal, serviceReport, type ServiceReport } from './sim-metrics.js';

export interface SimOptions {
  readonly scenario: string;
  readonly description: string;
  readonly schedule: readonly FaultStep[];
  readonly seed: number;
  readonly stores: number;
  readonly durationMs: number;
  /** Operations per second, across stores and the online channel. */
  readonly rate: number;
  readonly skus: number;
  /** Manager override at every store and the hub (0: off); a tenth of the sales then ask for it. */
  readonly overrideCap: number;
  readonly dataDir: string;
  /** Called about once a second with a one-line status, and once at each phase. */
  readonly progress: (line: string) => void;
}

/** The run's settings as given, then what happened. */
export interface SimReport extends Pick<
  SimOptions,
  'scenario' | 'description' | 'seed' | 'stores' | 'durationMs' | 'rate' | 'skus' | 'overrideCap' | 'schedule'
> {
  /** Each fault as applied: when (ms from the workload's start) and what. */
  readonly faults: readonly { readonly atMs: number; readonly step: FaultStep }[];
  readonly operations: {
    readonly invoked: number;
    readonly byKind: Readonly<Record<string, { ok: number; fail: number; unknown: number }>>;
    /** Operations without an answer during the run, retried with the same idempotency key after the heal. */
    readonly retried: number;
    /** Of those, answered from the idempotency record: applied before the fault, not applied again. */
    readonly retriedReplayed: number;
    /** Units sold under the manager override beyond the stores' rights (with --override-cap). */
    readonly overriddenUnits: number;
  };
  /** Refusals by cause, own-stock refusals, in-store sales while cut off, online orders served. */
  readonly service: ServiceReport;
  readonly converged: boolean;
  readonly verdict: Verdict;
  readonly replicas: Readonly<Record<string, Readonly<Record<string, FinalSku>>>>;
  readonly history: readonly HistoryEvent[];
}

/** Units each store receives of every SKU before the workload starts. */
const INITIAL_UNITS = 40;
/** Reservations expire quickly, so expiries happen inside a run. */
const RESERVATION_TTL_MS = 3_000;
const REQUEST_TIMEOUT_MS = 3_000;
const MAX_IN_FLIGHT = 64;
const QUIESCENCE_TIMEOUT_MS = 90_000;

interface Operation {
  readonly id: string;
  readonly kind: OperationKind;
  readonly sku: string;
  readonly quantity: number;
  readonly url: string;
  readonly body: unknown;
  readonly auth: boolean;
  readonly headers?: Readonly<Record<string, string>>;
  /** For confirm and cancel: the reservation they close. */
  readonly reservation?: Reservation;
  /** For an operation at a store: which one (by index). */
  readonly store?: number;
}

interface Reservation {
  readonly id: string;
  readonly sku: string;
  readonly quantity: number;
}

type Answer =
  | {
      readonly outcome: 'answered';
      readonly status: number;
      readonly body: Record<string, unknown>;
      /** Answered from the idempotency record: the operation had been applied before. */
      readonly replayed: boolean;
    }
  | { readonly outcome: 'refused' }
  | { readonly outcome: 'unknown' };

/**
 * A partition test with real processes: a hub and N stores, each store behind
 * its own TCP fault proxy, a seeded workload through the stores' POS APIs and
 * the hub's reservation API, a seeded fault schedule, then a heal, a retry of
 * every unanswered operation under its idempotency key, and a Jepsen-style check
 * of the recorded history against every replica's final state.
 */
export async function runSimulation(options: SimOptions): Promise<SimReport> {
  const random = seededRandom(options.seed);
  const secret = randomBytes(24).toString('hex');
  const apiToken = randomBytes(24).toString('hex');
  const managerToken = randomBytes(24).toString('hex');
  const quiet = { env: { SHELFSYNC_LOG_LEVEL: process.env.SHELFSYNC_LOG_LEVEL ?? 'error' } };
  mkdirSync(options.dataDir, { recursive: true });
  // Secrets reach the processes as owner-only files, never on a command line.
  const secretsDir = join(options.dataDir, 'secrets');
  const secretFile = writeSecretFile(join(secretsDir, 'hub-secret'), secret);
  const apiTokenFile = writeSecretFile(join(secretsDir, 'api-tokens'), apiToken);
  const managerTokenFile = writeSecretFile(join(secretsDir, 'manager-tokens'), managerToken);
  const storeIds: StoreId[] = Array.from({ length: options.stores }, (_, i) => StoreIdSchema.parse(`store-${i + 1}`));
  const skus = Array.from({ length: options.skus }, (_, i) => `SIM-${String(i + 1).padStart(3, '0')}`);
  const history: HistoryEvent[] = [];
  const ends = new Map<string, 'ok' | 'fail' | 'unknown'>();
  const operations = new Map<string, Operation>();
  const held: Reservation[] = [];
  const made: Reservation[] = [];
  const applied: { atMs: number; step: FaultStep }[] = [];
  const activeFaults = new Map<string, string>();
  const cuts = new LinkCuts();
  // Sales invoked at a store while a fault cut its link to the hub.
  const soldWhileCut = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  let retriedReplayed = 0;
  let overriddenUnits = 0;
  // Bursts sent just before a kill -9 have their own seeded stream, so the workload's stays the same.
  const burstRandom = seededRandom(options.seed ^ 0xb0057);
  let bursts = 0;
  const track = (running: Promise<void>): void => {
    const tracked = running.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };

  let hubPort = 0;
  const startHub = async (): Promise<ChildCommand> => {
    const started = await startHubProcess(
      {
        port: hubPort,
        dataDir: join(options.dataDir, 'hub'),
        secretFile,
        apiTokenFile,
        flags: [
          '--reservation-ttl-ms',
          String(RESERVATION_TTL_MS),
          '--escrow-rebalance-ms',
          '2000',
          // The simulator reads and writes far above a storefront's per-client budget.
          '--rate-limit',
          '100000',
          '--rate-limit-burst',
          '100000',
          '--override-cap',
          String(options.overrideCap),
        ],
      },
      quiet,
    );
    hubPort = Number(new URL(started.url).port);
    return started;
  };
  let hub: ChildCommand | null = await startHub();
  const hubUrl = `http://127.0.0.1:${hubPort}`;
  const proxies = await Promise.all(
    storeIds.map((_, i) => TcpProxy.start(hubPort, seededRandom(options.seed + 1 + i))),
  );
  const storePorts = storeIds.map(() => 0);
  const startStore = async (i: number): Promise<ChildCommand> => {
    const id = storeIds[i] as StoreId;
    const started = await startStoreProcess(
      {
        id,
        hubUrl: `ws://127.0.0.1:${proxies[i]?.port ?? 0}`,
        port: storePorts[i] ?? 0,
        dataDir: join(options.dataDir, id),
        tokenFile: writeSecretFile(join(secretsDir, `${id}.token`), signStoreToken(id, secret)),
        flags:
          options.overrideCap > 0
            ? ['--override-cap', String(options.overrideCap), '--manager-token-file', managerTokenFile]
            : [],
      },
      quiet,
    );
    storePorts[i] = Number(new URL(started.url).port);
    return started;
  };
  const stores: (ChildCommand | null)[] = [];
  for (let i = 0; i < storeIds.length; i++) stores.push(await startStore(i));
  const storeUrl = (i: number): string => `http://127.0.0.1:${storePorts[i] ?? 0}`;

  const kill = async (child: ChildCommand | null): Promise<void> => {
    if (child === null || child.child.exitCode !== null || child.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.child.once('exit', () => resolve()));
    child.child.kill('SIGKILL');
    await exited;
  };

  try {
    for (let i = 0; i < storeIds.length; i++) {
      await waitFor(
        `store ${storeIds[i] ?? ''} ready`,
        30_000,
        async () => (await get(`${storeUrl(i)}/readyz`)).status === 200,
      );
    }

    // Setup: every store receives every SKU; the allocator then escrows part of each shelf online.
    options.progress(`setup: ${storeIds.length} stores receive ${INITIAL_UNITS} of each of ${skus.length} SKUs`);
    for (const [i] of storeIds.entries()) {
      for (const sku of skus) {
        const op = storeOp(`setup-${i}-${sku}`, 'receive', sku, INITIAL_UNITS, i, '/v1/receipts', {
          sku,
          quantity: INITIAL_UNITS,
        });
        await perform(op);
      }
    }

    // The workload and the fault schedule, on one clock.
    const started = Date.now();
    const elapsed = (): number => Date.now() - started;
    const schedule = [...options.schedule].sort((a, b) => a.atMs - b.atMs);
    let nextFault = 0;
    let issued = 0;
    let lastProgress = 0;
    const status = (): string => {
      const counts = { ok: 0, fail: 0, unknown: 0 };
      for (const end of ends.values()) counts[end]++;
      const faults = [...activeFaults.entries()].map(([target, what]) => `${target} ${what}`).join(', ');
      return `[${(elapsed() / 1000).toFixed(1).padStart(5)}s / ${(options.durationMs / 1000).toFixed(0)}s] ops ${ends.size} (ok ${counts.ok}, fail ${counts.fail}, unknown ${counts.unknown}), in flight ${inFlight.size} | faults: ${faults === '' ? 'none' : faults}`;
    };
    while (elapsed() < options.durationMs) {
      while (nextFault < schedule.length && (schedule[nextFault]?.atMs ?? Infinity) <= elapsed()) {
        const step = schedule[nextFault++] as FaultStep;
        applied.push({ atMs: elapsed(), step });
        await applyFault(step);
        // After the fault: the burst sent before a kill reached a live process, not one cut off.
        cuts.apply(step);
      }
      const due = Math.floor((elapsed() / 1000) * options.rate);
      while (issued < due && inFlight.size < MAX_IN_FLIGHT) {
        const op = nextOperation(issued++);
        if (op === null) continue;
        track(perform(op));
      }
      if (elapsed() - lastProgress >= 1_000) {
        lastProgress = elapsed();
        options.progress(status());
      }
      await delay(5);
    }
    await Promise.all(inFlight);
    options.progress(status());

    // Heal: every link restored, every process back up.
    options.progress('heal: links restored, processes restarted');
    for (const proxy of proxies) {
      proxy.stopFlapping();
      proxy.restore();
      proxy.degrade({ latencyMs: 0, jitterMs: 0, bandwidth: 0 });
    }
    activeFaults.clear();
    if (hub === null || hub.child.exitCode !== null || hub.child.signalCode !== null) hub = await startHub();
    for (let i = 0; i < stores.length; i++) {
      const child = stores[i] ?? null;
      if (child === null || child.child.exitCode !== null || child.child.signalCode !== null)
        stores[i] = await startStore(i);
    }
    for (let i = 0; i < storeIds.length; i++) {
      await waitFor(`store ${storeIds[i] ?? ''} reconnected`, 30_000, async () => {
        const body = (await get(`${storeUrl(i)}/v1/status`)).body;
        return (body.hub as { connected?: boolean } | undefined)?.connected === true;
      });
    }

    // Every operation that got no answer is retried with its idempotency key: exactly once, or not at all.
    const unanswered = [...ends].filter(([, end]) => end === 'unknown').map(([id]) => operations.get(id));
    options.progress(`retry: ${unanswered.length} unanswered operations, same idempotency keys`);
    for (const op of unanswered) if (op !== undefined) await perform(op, true);

    // Expiries: wait out every held reservation's TTL, then record the ones that expired.
    await waitFor('held reservations to end', RESERVATION_TTL_MS * 4 + 10_000, async () => {
      for (const r of made) {
        const found = await get(`${hubUrl}/v1/reservations/${r.id}`, true);
        if (found.status !== 200 || found.body.state === 'held') return false;
      }
      return true;
    });
    for (const r of made) {
      const found = await get(`${hubUrl}/v1/reservations/${r.id}`, true);
      if (found.body.state === 'expired') {
        history.push({ id: `${r.id}:expire`, sku: r.sku, kind: 'expire', phase: 'ok', quantity: r.quantity });
      }
    }

    // Quiescence: every replica derives the same totals from the same operations (or the timeout says they do not).
    options.progress('quiescence: waiting for every replica to hold the same documents');
    let replicas = await readReplicas();
    const converged = await waitFor('convergence', QUIESCENCE_TIMEOUT_MS, async () => {
      replicas = await readReplicas();
      const views = Object.values(replicas).map((r) => JSON.stringify(r));
      return views.every((v) => v === views[0]);
    }).then(
      () => true,
      () => false,
    );

    const verdict = checkHistory(history, replicas, { overrideCap: options.overrideCap });
    const byKind: Record<string, { ok: number; fail: number; unknown: number }> = {};
    for (const [id, end] of finalEnds()) {
      const kind = operations.get(id)?.kind ?? 'expire';
      byKind[kind] ??= { ok: 0, fail: 0, unknown: 0 };
      byKind[kind][end]++;
    }
    return {
      scenario: options.scenario,
      description: options.description,
      seed: options.seed,
      stores: options.stores,
      durationMs: options.durationMs,
      rate: options.rate,
      skus: options.skus,
      overrideCap: options.overrideCap,
      schedule: options.schedule,
      faults: applied,
      operations: { invoked: operations.size, byKind, retried: unanswered.length, retriedReplayed, overriddenUnits },
      service: serviceReport(verdict, byKind, ends, soldWhileCut),
      converged,
      verdict,
      replicas,
      history,
    };
  } finally {
    for (const proxy of proxies) await proxy.close();
    await Promise.all(stores.map((s) => s?.stop() ?? Promise.resolve()));
    await hub?.stop();
  }

  function storeOp(
    id: string,
    kind: OperationKind,
    sku: string,
    quantity: number,
    store: number,
    path: string,
    body: unknown,
  ): Operation {
    return { id, kind, sku, quantity, url: `${storeUrl(store)}${path}`, body, auth: false, store };
  }

  /** The i-th operation of the seeded workload; null when it has nothing to act on (no held reservation). */
  function nextOperation(i: number): Operation | null {
    const r = random();
    const store = Math.floor(random() * storeIds.length);
    const sku = skus[Math.floor(random() * skus.length)] as string;
    const quantity = 1 + Math.floor(random() * 3);
    const pick = random();
    const id = `op-${options.seed}-${i}`;
    const other = storeIds[(store + 1) % storeIds.length] as string;
    if (r < 0.45 || (r < 0.5 && options.overrideCap === 0)) {
      return storeOp(id, 'sell', sku, quantity, store, '/v1/sales', { sku, quantity });
    }
    if (r < 0.5) {
      // A manager's sale of units in hand: beyond the store's rights it is sold under the override.
      return {
        ...storeOp(id, 'sell', sku, quantity, store, '/v1/sales', { sku, quantity, override: true }),
        headers: { 'x-manager-token': managerToken },
      };
    }
    if (r < 0.58)
      return storeOp(id, 'receive', sku, quantity * 4, store, '/v1/receipts', { sku, quantity: quantity * 4 });
    if (r < 0.62) return storeOp(id, 'return', sku, 1, store, '/v1/returns', { sku, quantity: 1 });
    if (r < 0.66) {
      return storeOp(id, 'shipOut', sku, quantity, store, '/v1/transfers', { sku, quantity, toStore: other });
    }
    if (r < 0.7) {
      return storeOp(id, 'receiveTransfer', sku, quantity, store, '/v1/transfers/receive', {
        sku,
        quantity,
        fromStore: other,
      });
    }
    if (r < 0.72) {
      const counted = Math.floor(pick * INITIAL_UNITS);
      return storeOp(id, 'count', sku, counted, store, '/v1/adjustments', { sku, counted });
    }
    if (r < 0.87) {
      const atStore = pick < 0.7 ? { storeId: storeIds[store] } : {};
      return {
        id,
        kind: 'reserve',
        sku,
        quantity,
        url: `${hubUrl}/v1/reservations`,
        body: { sku, quantity, ...atStore },
        auth: true,
      };
    }
    if (held.length === 0) return null;
    const [reservation] = held.splice(Math.floor(pick * held.length), 1);
    if (reservation === undefined) return null;
    const kind = r < 0.94 ? 'confirm' : 'cancel';
    return {
      id: `${reservation.id}:${kind}`,
      kind,
      sku: reservation.sku,
      quantity: reservation.quantity,
      url: `${hubUrl}/v1/reservations/${reservation.id}/${kind}`,
      body: {},
      auth: true,
      reservation,
    };
  }

  /** Sends one operation and records its invoke and its end. */
  async function perform(op: Operation, retry = false): Promise<void> {
    operations.set(op.id, op);
    if (!retry) history.push({ id: op.id, sku: op.sku, kind: op.kind, phase: 'invoke', quantity: op.quantity });
    if (!retry && op.kind === 'sell' && op.store !== undefined && cuts.isCut(op.store)) soldWhileCut.add(op.id);
    const answer: Answer = await send(
      op.url,
      op.body,
      op.auth,
      op.headers ?? {},
      op.kind === 'confirm' || op.kind === 'cancel' ? undefined : op.id,
    );
    let end: HistoryEvent;
    if (answer.outcome === 'unknown')
      end = { id: op.id, sku: op.sku, kind: op.kind, phase: 'unknown', quantity: op.quantity };
    else if (answer.outcome === 'refused' || answer.status >= 400) {
      // Refused before it was read, or answered with an error: not applied. A 5xx is not a definite answer.
      const phase = answer.outcome === 'answered' && answer.status >= 500 && answer.status !== 503 ? 'unknown' : 'fail';
      // What the refusal said (its problem code and details), for the checker's own-stock rule.
      const refusal = phase === 'fail' && answer.outcome === 'answered' ? parseRefusal(answer.body) : undefined;
      end = {
        id: op.id,
        sku: op.sku,
        kind: op.kind,
        phase,
        quantity: op.quantity,
        ...(refusal === undefined ? {} : { refusal }),
      };
    } else {
      const delta = op.kind === 'count' ? Number(answer.body.delta ?? 0) : undefined;
      // Each operation ends ok once (only unanswered ones are retried), so every ok answer counts.
      if (typeof answer.body.overridden === 'number') overriddenUnits += answer.body.overridden;
      end = {
        id: op.id,
        sku: op.sku,
        kind: op.kind,
        phase: 'ok',
        quantity: op.quantity,
        ...(delta === undefined ? {} : { delta }),
      };
      if (op.kind === 'reserve' && typeof answer.body.id === 'string') {
        const reservation = { id: answer.body.id, sku: op.sku, quantity: op.quantity };
        held.push(reservation);
        made.push(reservation);
      }
    }
    if (retry && answer.outcome === 'answered' && answer.replayed) retriedReplayed++;
    history.push(end);
    // A retry that settles an unknown replaces it; a definite end is never replaced.
    if (ends.get(op.id) !== 'ok' && ends.get(op.id) !== 'fail') ends.set(op.id, end.phase as 'ok' | 'fail' | 'unknown');
  }

  function* finalEnds(): Generator<[string, 'ok' | 'fail' | 'unknown']> {
    yield* ends;
    for (const event of history) if (event.kind === 'expire') yield [event.id, 'ok'];
  }

  async function send(
    url: string,
    body: unknown,
    auth: boolean,
    extra: Readonly<Record<string, string>>,
    key: string | undefined,
  ): Promise<Answer> {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          ...extra,
          'content-type': 'application/json',
          ...(key === undefined ? {} : { 'idempotency-key': key }),
          ...(auth ? { authorization: `Bearer ${apiToken}` } : {}),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      return {
        outcome: 'answered',
        status: res.status,
        body: parseObject(text),
        replayed: res.headers.get('idempotent-replayed') === 'true',
      };
    } catch (error) {
      // Connection refused: the request never reached a server, so nothing was applied.
      return causeCode(error) === 'ECONNREFUSED' ? { outcome: 'refused' } : { outcome: 'unknown' };
    }
  }

  async function get(url: string, auth = false): Promise<{ status: number; body: Record<string, unknown> }> {
    try {
      const res = await fetch(url, {
        headers: auth ? { authorization: `Bearer ${apiToken}` } : {},
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      return { status: res.status, body: parseObject(await res.text()) };
    } catch {
      return { status: 0, body: {} };
    }
  }

  async function readReplicas(): Promise<Record<string, Record<string, FinalSku>>> {
    const read = async (base: string, auth: boolean): Promise<Record<string, FinalSku>> => {
      const out: Record<string, FinalSku> = {};
      for (const sku of skus) {
        const res = await get(`${base}/v1/skus/${sku}/ledger`, auth);
        if (res.status !== 200) continue;
        const { added, committed, value, rights, stateVector, owed } = res.body as unknown as FinalSku;
        out[sku] = {
          added,
          committed,
          value,
          rights,
          ...(stateVector === undefined ? {} : { stateVector }),
          ...(owed === undefined ? {} : { owed }),
        };
      }
      return out;
    };
    const replicas: Record<string, Record<string, FinalSku>> = { hub: await read(hubUrl, true) };
    for (const [i, id] of storeIds.entries()) replicas[id] = await read(storeUrl(i), false);
    return replicas;
  }

  /** Sends a few operations at once (sales to a store, or reservations to the hub) without waiting for them. */
  async function burst(store: number | null): Promise<void> {
    for (let i = 0; i < 8; i++) {
      const sku = skus[Math.floor(burstRandom() * skus.length)] as string;
      const id = `burst-${options.seed}-${++bursts}`;
      const op: Operation =
        store === null
          ? {
              id,
              kind: 'reserve',
              sku,
              quantity: 1,
              url: `${hubUrl}/v1/reservations`,
              body: { sku, quantity: 1 },
              auth: true,
            }
          : storeOp(id, 'sell', sku, 1, store, '/v1/sales', { sku, quantity: 1 });
      track(perform(op));
    }
    // Let the requests reach the process, not their answers come back.
    await delay(2);
  }

  async function applyFault(step: FaultStep): Promise<void> {
    const name = (i: number): string => storeIds[i] ?? `store #${i}`;
    switch (step.fault) {
      case 'hold':
        proxies[step.store]?.stopFlapping();
        proxies[step.store]?.hold();
        activeFaults.set(name(step.store), 'held');
        return;
      case 'reset':
        proxies[step.store]?.stopFlapping();
        proxies[step.store]?.partition();
        activeFaults.set(name(step.store), 'cut');
        return;
      case 'restore':
        proxies[step.store]?.stopFlapping();
        proxies[step.store]?.restore();
        proxies[step.store]?.degrade({ latencyMs: 0, jitterMs: 0, bandwidth: 0 });
        activeFaults.delete(name(step.store));
        return;
      case 'degrade':
        proxies[step.store]?.degrade({ latencyMs: step.latencyMs, jitterMs: step.jitterMs, bandwidth: step.bandwidth });
        activeFaults.set(name(step.store), `lagging ${step.latencyMs}+${step.jitterMs} ms`);
        return;
      case 'flap':
        proxies[step.store]?.flap(step.upMs, step.downMs);
        activeFaults.set(name(step.store), 'flapping');
        return;
      case 'kill-store':
        // Killed in the middle of a burst of sales: some are answered, some durable but
        // unanswered, some never applied. The retry after the heal must apply each exactly once.
        await burst(step.store);
        await kill(stores[step.store] ?? null);
        stores[step.store] = null;
        activeFaults.set(name(step.store), 'killed');
        return;
      case 'restart-store':
        if (stores[step.store] === null) stores[step.store] = await startStore(step.store);
        activeFaults.delete(name(step.store));
        return;
      case 'kill-hub':
        await burst(null);
        await kill(hub);
        hub = null;
        activeFaults.set('hub', 'killed');
        return;
      case 'restart-hub':
        if (hub === null) hub = await startHub();
        activeFaults.delete('hub');
        return;
    }
  }
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function causeCode(error: unknown): string | undefined {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` until it holds; rejects naming `what` after `timeoutMs`. */
async function waitFor(what: string, timeoutMs: number, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(100);
  }
}
