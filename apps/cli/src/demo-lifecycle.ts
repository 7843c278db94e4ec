import type { ChildCommand } from './processes.js';
import { onShutdown } from './shutdown.js';

/** How long a child may take to stop on SIGTERM before it is killed: a hub whose database went first may hang. */
const STOP_GRACE_MS = 10_000;

/**
 * What the demo started, to stop once, whichever comes first: the end of
 * `--duration`, Ctrl-C or SIGTERM, or a failure while starting. The summary
 * runs first, while everything still answers; then the stops, the last
 * registered first (stores, then hubs, then the database).
 */
export class DemoLifecycle {
  private readonly stops: (() => Promise<void>)[] = [];
  private summary: (() => Promise<void>) | null = null;
  private finishing: Promise<void> | undefined;

  constructor() {
    onShutdown(() => {
      process.stdout.write('\nstopping the demo...\n');
      return this.finish();
    });
  }

  /** Stops `children` (in parallel) when the demo ends. */
  own(children: readonly ChildCommand[]): void {
    this.stops.push(() => Promise.all(children.map((child) => stopWithin(child, STOP_GRACE_MS))).then(() => {}));
  }

  onStop(stop: () => Promise<void>): void {
    this.stops.push(stop);
  }

  /** Runs when the demo ends, before anything stops. */
  beforeStop(summary: () => Promise<void>): void {
    this.summary = summary;
  }

  finish(): Promise<void> {
    this.finishing ??= this.run();
    return this.finishing;
  }

  /** Resolves after `seconds` (then stops everything), or never with 0: a signal ends the demo. */
  async runFor(seconds: number): Promise<void> {
    if (seconds === 0) await new Promise<never>(() => {});
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    await this.finish();
  }

  private async run(): Promise<void> {
    try {
      await this.summary?.();
    } catch (error) {
      process.stderr.write(`the demo's summary failed: ${String(error)}\n`);
    }
    for (const stop of [...this.stops].reverse()) {
      await stop().catch((error: unknown) => process.stderr.write(`a demo process did not stop: ${String(error)}\n`));
    }
  }
}

/** SIGTERM, then SIGKILL if it has not exited within `ms`; resolves once it has exited. */
export async function stopWithin(child: ChildCommand, ms: number): Promise<void> {
  const { child: process_ } = child;
  if (process_.exitCode !== null || process_.signalCode !== null) return;
  const timer = setTimeout(() => process_.kill('SIGKILL'), ms);
  try {
    await child.stop();
  } finally {
    clearTimeout(timer);
  }
}
