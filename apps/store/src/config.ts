import { StoreIdSchema } from '@shelfsync/protocol';
import { z } from 'zod';

/** The most hub nodes a store is given: a cluster is a few nodes, not a directory. */
export const MAX_HUB_NODES = 16;

/** The hub addresses a `--hub` value lists, comma-separated, in order. */
export function hubNodes(value: string): string[] {
  return value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

/** Everything a store node needs to start. Values come from flags or SHELFSYNC_* variables, checked here. */
export const StoreConfigSchema = z.strictObject({
  id: StoreIdSchema,
  /** The hub's address, or its nodes' addresses comma-separated: the store connects to one, and moves on when it fails. */
  hubUrl: z
    .string()
    .refine((value) => hubNodes(value).length > 0, 'give the hub address, such as ws://127.0.0.1:8080')
    .refine((value) => hubNodes(value).length <= MAX_HUB_NODES, `at most ${MAX_HUB_NODES} hub addresses`)
    .refine(
      (value) => hubNodes(value).every((node) => URL.canParse(node)),
      'each hub address must be a URL such as ws://127.0.0.1:8080',
    )
    .refine(
      (value) => hubNodes(value).every((node) => /^wss?:\/\//.test(node)),
      'each hub address must start with ws:// or wss://',
    ),
  port: z.coerce.number().int().min(0).max(65535),
  host: z.string().min(1).default('127.0.0.1'),
  dataDir: z.string().min(1),
  /** The store token (experiments; it shows in `ps`): prefer `tokenFile`. */
  token: z.string().min(1).optional(),
  /** A file holding the store token (owner-only); read again before every connection attempt, so a new token needs no restart. */
  tokenFile: z.string().min(1).optional(),
  /**
   * How long to wait before trying again when the hub refused the token (401, 4401), it expired, or the link
   * closed with another stop-and-alert code (4403, 4406, 4409, 4400...): minutes, not seconds.
   */
  authRetryMs: z.coerce.number().int().min(1_000).max(86_400_000).default(300_000),
  /** A fresh replica's writes wait this long for its first sync with the hub before they are refused. */
  firstSyncWaitMs: z.coerce.number().int().min(0).max(600_000).default(10_000),
  /** How long a sale beyond the store's rights waits for a top-up from the hub, while connected. */
  topUpWaitMs: z.coerce.number().int().min(0).max(10_000).default(250),
  /**
   * Manager override: how many units this store may sell beyond its rights
   * (physically in hand, hub out of reach), outstanding at once per SKU, until the
   * hub settles them. 0 turns the override off.
   */
  overrideCap: z.coerce.number().int().min(0).max(1_000_000).default(0),
  /** What a sale under the manager override must carry (X-Manager-Token); needed while the cap is above 0. */
  managerToken: z.string().min(16, 'the manager token needs at least 16 characters').optional(),
  /** A file of manager tokens, one a line, any valid (owner-only); followed while the store runs, so one is retired by removing its line. */
  managerTokenFile: z.string().min(1).optional(),
  /** How long a POS retry with the same Idempotency-Key gets the first answer back. */
  idempotencyHours: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 365)
    .default(24),
});
export type StoreConfig = z.infer<typeof StoreConfigSchema>;

/** The store's settings, checked together: one store token; an override cap needs a manager token. */
export const checkStoreConfig = (config: StoreConfig): StoreConfig => {
  if ((config.token === undefined) === (config.tokenFile === undefined)) {
    throw new Error('a store token is required, from --token-file (or --token): shelfsync token --store ID');
  }
  if (config.overrideCap > 0 && config.managerToken === undefined && config.managerTokenFile === undefined) {
    throw new Error('--override-cap above 0 needs a manager token (--manager-token-file)');
  }
  return config;
};
