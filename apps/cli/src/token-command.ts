import { readSecretFile } from '@shelfsync/edge';
import { DEFAULT_TOKEN_TTL_MS, MIN_SECRET_LENGTH, signStoreToken } from '@shelfsync/hub';
import { MAX_TOKEN_TTL_MS, StoreIdSchema, parseDuration } from '@shelfsync/protocol';
import { z } from 'zod';
import { UsageError, parseFlags, type FlagSpec } from './args.js';

export const tokenFlags = {
  store: { flag: 'store', env: 'SHELFSYNC_STORE_ID', description: 'store id the token is bound to' },
  secretFile: {
    flag: 'secret-file',
    env: 'SHELFSYNC_SECRET_FILE',
    description: "file (owner-only) holding a secret of the hub's key set (e.g. <data>/hub-secret)",
  },
  secret: {
    flag: 'secret',
    env: 'SHELFSYNC_SECRET',
    description: 'the secret itself: for experiments only, it shows in ps (use --secret-file)',
  },
  ttl: {
    flag: 'ttl',
    env: 'SHELFSYNC_TOKEN_TTL',
    description: 'how long the token is valid: 90d, 12h, 1h30m, 45s (default 30d, at most 366d)',
  },
} satisfies Record<string, FlagSpec>;

/** `shelfsync token`: a store token signed with a key of the hub, printed alone on stdout. */
export async function runToken(argv: string[]): Promise<void> {
  const { store, secret, secretFile, ttl } = parseFlags(
    argv,
    tokenFlags,
    z.object({
      store: StoreIdSchema,
      secret: z.string().min(MIN_SECRET_LENGTH, `at least ${MIN_SECRET_LENGTH} characters`).optional(),
      secretFile: z.string().min(1).optional(),
      ttl: z
        .string()
        .transform((text, ctx) => {
          const ms = parseDuration(text);
          if (ms === null || ms > MAX_TOKEN_TTL_MS) {
            ctx.addIssue({ code: 'custom', message: 'a duration such as 90d, 12h, 1h30m or 45s, at most 366d' });
            return z.NEVER;
          }
          return ms;
        })
        .optional(),
    }),
  );
  oneOf('secret', secret, secretFile);
  const key = secret ?? (secretFile === undefined ? undefined : readSecretFile(secretFile, 'secret'));
  if (key === undefined) throw new UsageError('--secret-file (or SHELFSYNC_SECRET_FILE): required');
  const checked = parseFlagValue(
    z.string().min(MIN_SECRET_LENGTH, `at least ${MIN_SECRET_LENGTH} characters`),
    key,
    'secret',
  );
  process.stdout.write(`${signStoreToken(store, checked, { ttlMs: ttl ?? DEFAULT_TOKEN_TTL_MS })}\n`);
  return Promise.resolve();
}

/** A secret may come from its flag or its file, not both. */
export function oneOf(flag: string, value: unknown, file: unknown): void {
  if (value !== undefined && file !== undefined) throw new UsageError(`--${flag} and --${flag}-file: give one of them`);
}

/** A value read from a file, checked like the flag it stands in for. */
export function parseFlagValue<S extends z.ZodType>(schema: S, value: unknown, name: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new UsageError(`${name}: ${result.error.issues[0]?.message ?? 'invalid'}`);
  return result.data;
}
