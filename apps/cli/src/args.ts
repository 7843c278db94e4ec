import { parseArgs } from 'node:util';
import type { z } from 'zod';

/** A command-line mistake: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface FlagSpec {
  readonly flag: string;
  /** Environment variable used when the flag is absent. */
  readonly env?: string;
  readonly description: string;
  readonly boolean?: boolean;
}

/**
 * Parses flags (strictly: unknown flags are errors), fills gaps from environment
 * variables, then checks the result with a zod schema, turning every issue into
 * a sentence that names the flag.
 */
export function parseFlags<S extends z.ZodType>(
  argv: readonly string[],
  specs: Readonly<Record<string, FlagSpec>>,
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        Object.values(specs).map((spec) => [
          spec.flag,
          { type: spec.boolean === true ? 'boolean' : 'string' } as const,
        ]),
      ),
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const raw: Record<string, unknown> = {};
  for (const [field, spec] of Object.entries(specs)) {
    const value = values[spec.flag] ?? (spec.env === undefined ? undefined : env[spec.env]);
    if (value !== undefined) raw[field] = value;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const field = String(issue.path[0] ?? '');
      const spec = specs[field];
      const name = spec === undefined ? field : `--${spec.flag}${spec.env === undefined ? '' : ` (or ${spec.env})`}`;
      return `${name}: ${issue.code === 'invalid_type' && raw[field] === undefined ? 'required' : issue.message}`;
    });
    throw new UsageError(lines.join('\n'));
  }
  return parsed.data;
}

/** The flag table of a command's --help. */
export function describeFlags(specs: Readonly<Record<string, FlagSpec>>): string {
  const width = Math.max(...Object.values(specs).map((spec) => spec.flag.length));
  return Object.values(specs)
    .map(
      (spec) =>
        `  --${spec.flag.padEnd(width)}  ${spec.description}${spec.env === undefined ? '' : ` [env ${spec.env}]`}`,
    )
    .join('\n');
}
