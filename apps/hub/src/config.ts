import { z } from 'zod';
import { MIN_SECRET_LENGTH } from './token.js';

/** Everything a hub needs to start. Values come from flags or SHELFSYNC_* variables, checked here. */
export const HubConfigSchema = z.strictObject({
  port: z.coerce.number().int().min(0).max(65535),
  host: z.string().min(1).default('127.0.0.1'),
  dataDir: z.string().min(1),
  secret: z.string().min(MIN_SECRET_LENGTH, `the secret needs at least ${MIN_SECRET_LENGTH} characters`),
});
export type HubConfig = z.infer<typeof HubConfigSchema>;
