import { TokenSet, problem, readSecretFile, type Logger } from '@shelfsync/edge';
import { ErrorCode } from '@shelfsync/protocol';
import type { Context } from 'koa';
import type { StoreConfig } from './config.js';

/** Reads the store token: from --token-file afresh on every call (a replaced token needs no restart), else --token. */
export function storeTokenReader(config: StoreConfig): () => string {
  const { tokenFile, token } = config;
  if (tokenFile !== undefined) {
    // Checked at start: a file readable by others stops the store with one line.
    readSecretFile(tokenFile, 'store token');
    return () => readSecretFile(tokenFile, 'store token');
  }
  return () => token ?? '';
}

/**
 * A sale under the manager override needs a manager token (X-Manager-Token):
 * any of --manager-token-file's lines (followed while the store runs, so a token
 * is rotated by adding the new line and later removing the old) or
 * --manager-token, compared in constant time. With the override off (cap 0) the
 * sale goes on and is refused for that reason, which tells the till more than a
 * 401 would.
 */
export function managerCheck(config: StoreConfig, log: Logger): (ctx: Context) => void {
  const tokens =
    config.managerTokenFile !== undefined
      ? TokenSet.fromFile(config.managerTokenFile, 'manager token', 16, (error, count) => {
          if (error === null) log.info({ tokens: count }, 'manager tokens reloaded from their file');
          else
            log.error({ err: error.message, tokens: count }, 'manager token file unusable: the previous tokens stay');
        })
      : TokenSet.of(config.managerToken === undefined ? [] : [config.managerToken]);
  return (ctx) => {
    if (config.overrideCap === 0) return;
    if (!tokens.matches(ctx.get('x-manager-token'))) {
      throw problem(
        ErrorCode.Unauthorized,
        'a sale under the manager override needs the manager token: X-Manager-Token',
      );
    }
  };
}
