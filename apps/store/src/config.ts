import { StoreIdSchema } from '@shelfsync/protocol';
import { z } from 'zod';

/** Everything a store node needs to start. Values come from flags or SHELFSYNC_* variables, checked here. */
export const StoreConfigSchema = z.strictObject({
  id: StoreIdSchema,
  hubUrl: z
    .string()
    .url('the hub address must be a URL such as ws://127.0.0.1:8080')
    .refine((value) => /^wss?:\/\//.test(value), 'the hub address must start with ws:// or wss://'),
  port: z.coerce.number().int().min(0).max(65535),
  host: z.string().min(1).default('127.0.0.1'),
  dataDir: z.string().min(1),
  token: z.string().min(1, 'a store token is required (shelfsync token --store ID --secret S)'),
});
export type StoreConfig = z.infer<typeof StoreConfigSchema>;
