import { SecretFileError, readSecretFile, readTokenLines } from '@shelfsync/edge';
import { HubConfigSchema, MIN_SECRET_LENGTH, startHub } from '@shelfsync/hub';
import { StoreConfigSchema, checkStoreConfig, startStore } from '@shelfsync/store';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { UsageError, describeFlags, parseFlags, type FlagSpec } from './args.js';
import { runDemo } from './demo.js';
import { writeSecretFile } from './processes.js';
import { demoFlags, hubFlags, proxyFlags, simFlags, storeFlags } from './flags.js';
import { oneOf, parseFlagValue, runToken, tokenFlags } from './token-command.js';
import { startProxy } from './proxy-command.js';
import { installProcessPolicy } from './process-policy.js';
import { onShutdown } from './shutdown.js';
import { SimInputError, SimOptionsSchema, runSimCommand } from './sim/sim-command.js';

const commands: Record<
  string,
  { summary: string; flags: Record<string, FlagSpec>; run: (argv: string[]) => Promise<void> }
> = {
  hub: { summary: 'run the cloud hub', flags: hubFlags, run: runHub },
  store: { summary: 'run a store node', flags: storeFlags, run: runStore },
  token: { summary: 'print a store token signed with a hub key, valid for --ttl', flags: tokenFlags, run: runToken },
  proxy: { summary: 'a TCP fault proxy in front of the hub, with a control API', flags: proxyFlags, run: runProxy },
  sim: {
    summary:
      'partition test: real hub and stores behind fault proxies, a seeded workload and schedule, a checked verdict',
    flags: simFlags,
    run: async (argv) => {
      try {
        process.exitCode = await runSimCommand(parseFlags(argv, simFlags, SimOptionsSchema));
      } catch (error) {
        if (error instanceof SimInputError) throw new UsageError(error.message);
        throw error;
      }
    },
  },
  demo: {
    summary: 'run a hub (--cluster: three hub nodes on PostgreSQL), three stores and light traffic',
    flags: demoFlags,
    run: (argv) => runDemo(parseDemo(argv)),
  },
};

function usage(): string {
  return [
    'usage: shelfsync <command> [flags]   (npm run shelfsync -- <command> ...)',
    '',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(6)} ${c.summary}`),
    '',
    'shelfsync <command> --help shows its flags.',
  ].join('\n');
}

async function runHub(argv: string[]): Promise<void> {
  const { secretFile, apiToken, ...raw } = parseFlags(
    argv,
    hubFlags,
    HubConfigSchema.omit({ apiTokens: true }).extend({
      secret: z.string().optional(),
      secretFile: z.string().min(1).optional(),
      apiToken: z.string().optional(),
    }),
  );
  ensureWritableDataDir(raw.dataDir);
  oneOf('secret', raw.secret, secretFile);
  oneOf('api-token', apiToken, raw.apiTokenFile);
  const secret = raw.secret ?? readSecretFile(secretFile ?? dataDirSecret(raw.dataDir, 'hub-secret'), 'secret');
  // Without a token given, the data directory's file is the list: it is followed like --api-token-file.
  const apiTokenFile =
    apiToken === undefined ? (raw.apiTokenFile ?? dataDirSecret(raw.dataDir, 'api-token')) : undefined;
  const apiTokens =
    apiTokenFile === undefined ? [apiToken ?? ''] : readTokenLines(apiTokenFile, 'API token', MIN_SECRET_LENGTH);
  const config = parseFlagValue(
    HubConfigSchema,
    { ...raw, secret, apiTokens, ...(apiTokenFile === undefined ? {} : { apiTokenFile }) },
    'hub',
  );
  const hub = await startHub(config);
  process.stdout.write(`hub listening on ${hub.url}\n`);
  onShutdown(() => hub.close());
}

async function runStore(argv: string[]): Promise<void> {
  const parsed = parseFlags(argv, storeFlags, StoreConfigSchema);
  ensureWritableDataDir(parsed.dataDir);
  oneOf('token', parsed.token, parsed.tokenFile);
  oneOf('manager-token', parsed.managerToken, parsed.managerTokenFile);
  if (parsed.token === undefined && parsed.tokenFile === undefined) {
    throw new UsageError('--token-file (or SHELFSYNC_TOKEN_FILE): required (a store token from shelfsync token)');
  }
  // The override needs a manager token: a file in the data directory unless given.
  const config = checkStoreConfig(
    parsed.overrideCap > 0 && parsed.managerToken === undefined && parsed.managerTokenFile === undefined
      ? { ...parsed, managerTokenFile: dataDirSecret(parsed.dataDir, 'manager-token') }
      : parsed,
  );
  const store = await startStore(config);
  process.stdout.write(`store ${config.id} listening on ${store.url}\n`);
  onShutdown(() => store.close());
}

async function runProxy(argv: string[]): Promise<void> {
  const config = parseFlags(
    argv,
    proxyFlags,
    z.object({
      port: z.coerce.number().int().min(0).max(65535),
      target: z.coerce.number().int().min(1).max(65535),
      controlPort: z.coerce.number().int().min(0).max(65535).default(0),
    }),
  );
  const running = await startProxy({ port: config.port, targetPort: config.target, controlPort: config.controlPort });
  process.stdout.write(
    `proxy listening on http://127.0.0.1:${running.proxy.port} (to 127.0.0.1:${config.target}; control on ${running.controlUrl})\n`,
  );
  onShutdown(() => running.close());
}

function parseDemo(argv: string[]) {
  return parseFlags(
    argv,
    demoFlags,
    z.object({
      port: z.coerce.number().int().min(1).max(65532).default(8080),
      dataDir: z.string().min(1).default(join('.data', 'demo')),
      seed: z.coerce.number().int().default(1),
      rate: z.coerce.number().positive().max(1000).default(4),
      duration: z.coerce.number().min(0).default(0),
      cluster: z.boolean().default(false),
      killNodeAt: z.coerce.number().positive().optional(),
    }),
  );
}

/** A failure to start that a sentence explains better than a stack trace. */
class StartupError extends Error {
  override readonly name = 'StartupError';
}

/**
 * Creates the data directory if needed and proves it takes a synced write, so a
 * read-only or full disk stops the process at start, naming the directory,
 * instead of at its first acknowledged operation.
 */
function ensureWritableDataDir(dir: string): void {
  const probe = join(dir, '.write-probe');
  try {
    mkdirSync(dir, { recursive: true });
    const fd = openSync(probe, 'w');
    try {
      writeFileSync(fd, 'shelfsync');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    rmSync(probe, { force: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new StartupError(`cannot use data directory ${dir}: ${reason}`, { cause: error });
  }
}

/** The path of a secret kept in the data directory (`hub-secret`, `api-token`, `manager-token`), created on first use (mode 0600). */
function dataDirSecret(dataDir: string | undefined, name: string): string {
  if (dataDir === undefined) throw new UsageError('--data (or SHELFSYNC_DATA): required');
  const file = join(dataDir, name);
  if (!existsSync(file)) {
    writeSecretFile(file, randomBytes(32).toString('hex'));
    process.stderr.write(`created a new ${name} in ${file}\n`);
  }
  return file;
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  const command = commands[name];
  if (command === undefined) throw new UsageError(`unknown command "${name}"\n\n${usage()}`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`usage: shelfsync ${name} [flags]\n${command.summary}\n\n${describeFlags(command.flags)}\n`);
    return;
  }
  try {
    await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError)
      throw new UsageError(`shelfsync ${name}: ${error.message}\n(see shelfsync ${name} --help)`);
    throw error;
  }
}

installProcessPolicy();
main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  if (error instanceof StartupError || error instanceof SecretFileError) {
    process.stderr.write(`shelfsync: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
