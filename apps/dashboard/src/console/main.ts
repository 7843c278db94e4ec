import '../shared/styles.css';
import { byId, setAttr, setText } from '../shared/dom.js';
import { ago, units } from '../shared/format.js';
import { RequestFailed, idempotencyKey, requestJson } from '../shared/http.js';
import { OperationResultSchema, StoreSkuSchema, StoreStatusSchema, type StoreSku } from '../shared/schemas.js';
import { z } from 'zod/mini';

/**
 * The store console: served by a store node and talking only to it, so it keeps
 * working (selling from the store's local quota) while the hub is unreachable.
 */

let current: StoreSku | null = null;
let hubConnected: boolean | null = null;
let nodeReachable = true;

/** Why the store is not connected, as its /v1/status says (stores of earlier versions do not say). */
const LinkProblemSchema = z.looseObject({
  hub: z.looseObject({
    problem: z.optional(
      z.nullable(z.looseObject({ kind: z.string(), detail: z.string(), nextAttemptAt: z.nullable(z.string()) })),
    ),
    tokenExpiresAt: z.optional(z.nullable(z.string())),
  }),
});
type LinkProblem = NonNullable<z.infer<typeof LinkProblemSchema>['hub']['problem']>;
let linkProblem: LinkProblem | null = null;

/** What the pill says for each reason; credential problems need a person, not patience. */
const PROBLEM_LABELS: Readonly<Record<string, string>> = {
  unauthorized: 'Hub refused this store’s token',
  'token-expired': 'Store token expired',
  'token-unreadable': 'Store token unreadable',
  forbidden: 'Hub refused this store',
  'unsupported-protocol': 'Hub speaks another protocol version',
  replaced: 'Another process connected as this store',
  'protocol-error': 'Link broke the sync protocol',
  'link-cut': 'Link cut by an operator',
};

const banner = byId('offline-banner');
const linkPill = byId('hub-link');
function showLink(): void {
  if (!nodeReachable) {
    setText(linkPill, 'This store node is not answering');
    setAttr(linkPill, 'class', 'pill pill-bad');
  } else if (hubConnected === null) {
    setText(linkPill, 'Checking the hub link…');
    setAttr(linkPill, 'class', 'pill pill-wait');
  } else {
    const label = hubConnected ? 'Hub connected' : (PROBLEM_LABELS[linkProblem?.kind ?? ''] ?? 'Hub unreachable');
    setText(linkPill, label);
    setAttr(linkPill, 'class', `pill ${hubConnected ? 'pill-ok' : 'pill-bad'}`);
    setAttr(linkPill, 'title', hubConnected || linkProblem === null ? '' : linkProblem.detail);
  }
  const offline = nodeReachable && hubConnected === false;
  banner.hidden = !offline;
  if (offline) {
    setText(
      banner,
      current === null
        ? 'Offline: selling from local quota. Look up a SKU to see how many units are left.'
        : `Offline: selling from local quota, ${units(current.rights)} unit${current.rights === 1 ? '' : 's'} of ${current.sku} left.`,
    );
    // A credential problem does not heal by waiting: say what the hub said and when the store tries again.
    if (linkProblem !== null && linkProblem.kind in PROBLEM_LABELS) {
      const next =
        linkProblem.nextAttemptAt === null
          ? ''
          : ` Next attempt ${new Date(linkProblem.nextAttemptAt).toLocaleTimeString()}.`;
      banner.textContent = `${banner.textContent ?? ''} ${linkProblem.detail}.${next}`;
    }
  }
  document.body.classList.toggle('offline', offline);
}

async function loadStatus(): Promise<void> {
  try {
    const status = await requestJson('/v1/status', StoreStatusSchema);
    nodeReachable = true;
    hubConnected = status.hub.connected;
    const link = LinkProblemSchema.safeParse(status);
    linkProblem = link.success ? (link.data.hub.problem ?? null) : null;
    setText(byId('store-id'), status.storeId);
    document.title = `shelfsync · store ${status.storeId}`;
  } catch (error) {
    if (error instanceof RequestFailed && error.status === 0) nodeReachable = false;
  }
  showLink();
}

const lookupStatus = byId('lookup-status');
function showSku(sku: StoreSku | null): void {
  current = sku;
  byId('figures').hidden = sku === null;
  if (sku !== null) {
    setText(byId('fig-rights'), units(sku.rights));
    setText(byId('fig-shelf'), units(sku.onShelf));
    setText(byId('fig-chain'), units(sku.available));
    setText(byId('fig-chain-note'), chainNote(sku));
    setText(
      byId('fig-sync'),
      `${sku.pendingSync ? 'changes waiting for the hub' : 'all changes at the hub'}; last synced ${
        sku.lastSyncedAt === null ? 'never' : ago(Date.parse(sku.lastSyncedAt), Date.now())
      }`,
    );
    hubConnected = sku.hubConnected;
  }
  showLink();
}

/** How current the chain-wide figure is: a store holding its share knows the rest of the chain from the hub's summary. */
function chainNote(sku: StoreSku): string {
  if (sku.availableAsOf === null) return '(this location only: the chain figure has not come yet)';
  if (sku.availableAsOf !== undefined)
    return `(the rest of the chain as told ${ago(Date.parse(sku.availableAsOf), Date.now())})`;
  return sku.hubConnected ? '(live)' : '(as last known)';
}

async function loadSku(sku: string): Promise<void> {
  try {
    showSku(await requestJson(`/v1/skus/${encodeURIComponent(sku)}`, StoreSkuSchema));
    setText(lookupStatus, '');
  } catch (error) {
    if (error instanceof RequestFailed && error.status === 404) {
      showSku(null);
      setText(lookupStatus, `This store holds nothing for ${sku} yet: receive units to start.`);
      return;
    }
    setText(lookupStatus, error instanceof Error ? error.message : 'lookup failed');
  }
}

const skuInput = byId<HTMLInputElement>('sku-input');
const selectedSku = (): string => skuInput.value.trim();
byId<HTMLFormElement>('lookup').addEventListener('submit', (event) => {
  event.preventDefault();
  void loadSku(selectedSku());
});

const result = byId('result');
const PAST: Readonly<Record<string, string>> = {
  sales: 'Sold',
  receipts: 'Received',
  returns: 'Returned',
  adjustments: 'Counted',
};

/** Posts one operation with a fresh Idempotency-Key and says what happened, in words. */
async function record(path: 'sales' | 'receipts' | 'returns' | 'adjustments', body: object): Promise<void> {
  const sku = selectedSku();
  if (!skuInput.checkValidity() || sku === '') {
    skuInput.reportValidity();
    return;
  }
  setAttr(result, 'class', 'result');
  setText(result, 'Recording…');
  try {
    const done = await requestJson(`/v1/${path}`, OperationResultSchema, {
      method: 'POST',
      body: { sku, ...body },
      headers: { 'idempotency-key': idempotencyKey('console') },
      // A sale beyond local rights may wait for a top-up from the hub.
      timeoutMs: 15_000,
    });
    setAttr(result, 'class', 'result result-ok');
    setText(
      result,
      `${PAST[path] ?? 'Recorded'} ${units(done.quantity)} of ${done.sku}. ${units(done.rights)} left to sell here, ${units(done.onShelf)} on the shelf.`,
    );
  } catch (error) {
    setAttr(result, 'class', 'result result-bad');
    const problem = error instanceof RequestFailed ? error.problem : null;
    if (problem?.code === 'INSUFFICIENT_RIGHTS') {
      const rights = Number(problem.details?.rights ?? 0);
      const reachable = problem.details?.hubReachable === true;
      setText(
        result,
        `Refused: only ${rights} unit${rights === 1 ? '' : 's'} left to sell here${reachable ? ' and the hub had none to add' : ' and the hub is unreachable'}.`,
      );
    } else setText(result, `Refused: ${error instanceof Error ? error.message : 'error'}`);
  }
  await loadSku(sku);
}

byId<HTMLFormElement>('movement').addEventListener('submit', (event) => {
  event.preventDefault();
  const action = (event.submitter as HTMLButtonElement | null)?.value;
  const quantity = byId<HTMLInputElement>('quantity');
  if (!quantity.checkValidity()) {
    quantity.reportValidity();
    return;
  }
  if (action === 'sales' || action === 'receipts' || action === 'returns') {
    void record(action, { quantity: Number(quantity.value) });
  }
});
byId<HTMLFormElement>('count').addEventListener('submit', (event) => {
  event.preventDefault();
  const counted = byId<HTMLInputElement>('counted');
  if (!counted.checkValidity()) {
    counted.reportValidity();
    return;
  }
  void record('adjustments', { counted: Number(counted.value) });
});

/** Polls this node (it has no event stream): the link state and the SKU on screen. */
function poll(): void {
  const sku = current?.sku;
  void Promise.all([loadStatus(), sku === undefined ? Promise.resolve() : loadSku(sku)]).finally(() =>
    setTimeout(poll, 2_000),
  );
}
showLink();
poll();
