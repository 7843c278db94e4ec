import { byId, setText } from '../shared/dom.js';
import { RequestFailed, requestJson } from '../shared/http.js';
import { LinkStateSchema } from '../shared/schemas.js';

/**
 * The tester controls: an API token kept for this tab only, and the admin
 * link API it unlocks (cut or restore a store's link to the hub).
 */
const TOKEN_KEY = 'shelfsync.apiToken';
const tokenStatus = byId('token-status');

export interface LinkControlHooks {
  /** The token was set or forgotten: the Cut link and Restore link buttons turn on or off. */
  readonly tokenChanged: () => void;
  /** A link was asked to change (or the hub said why not): read the stores again. */
  readonly linkChanged: () => Promise<void>;
}

let hooks: LinkControlHooks = { tokenChanged: () => {}, linkChanged: () => Promise.resolve() };

/** The API token entered in this tab, or null. */
export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Wires the token form; shows whether a token is set. */
export function initLinkControls(given: LinkControlHooks): void {
  hooks = given;
  byId<HTMLFormElement>('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = byId<HTMLInputElement>('token-input');
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = '';
    showToken();
  });
  byId('token-forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showToken();
  });
  showToken();
}

function showToken(): void {
  const has = token() !== null;
  byId('token-forget').hidden = !has;
  setText(
    tokenStatus,
    has
      ? 'Token set for this tab: the Cut link and Restore link buttons are on.'
      : 'No token: tester controls are off.',
  );
  hooks.tokenChanged();
}

/** Cuts (`cut`) or restores (`restored`) a store's link through the hub's admin API, with the tab's token. */
export async function toggleLink(storeId: string, state: string): Promise<void> {
  const bearer = token();
  if (bearer === null || (state !== 'cut' && state !== 'restored')) return;
  try {
    const result = await requestJson(`/v1/admin/stores/${encodeURIComponent(storeId)}/link`, LinkStateSchema, {
      method: 'POST',
      body: { state },
      headers: { authorization: `Bearer ${bearer}` },
    });
    setText(tokenStatus, `${result.storeId}: link ${result.state}.`);
  } catch (error) {
    if (error instanceof RequestFailed && error.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      showToken();
      setText(tokenStatus, 'The hub refused that token; enter the API token again.');
      return;
    }
    setText(tokenStatus, `Could not change ${storeId}'s link: ${error instanceof Error ? error.message : 'error'}`);
  }
  await hooks.linkChanged().catch(() => {});
}
