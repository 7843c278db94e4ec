import Router from '@koa/router';
import { closeServer, createHttpServer, createLogger, listen, readJson, type RequestState } from '@shelfsync/edge';
import { z } from 'zod';
import { TcpProxy } from './tcp-proxy.js';

const DegradeSchema = z.strictObject({
  latencyMs: z.int().min(0).max(60_000).optional(),
  jitterMs: z.int().min(0).max(60_000).optional(),
  bandwidth: z.int().min(0).max(1_000_000_000).optional(),
});
const FlapSchema = z.strictObject({
  upMs: z.int().min(10).max(3_600_000),
  downMs: z.int().min(10).max(3_600_000),
});

export interface RunningProxy {
  readonly proxy: TcpProxy;
  readonly controlUrl: string;
  close(): Promise<void>;
}

/**
 * A fault proxy in front of a hub (or any TCP service) with an HTTP control API
 * on loopback: GET /status; POST /partition, /hold, /restore, /degrade
 * {latencyMs, jitterMs, bandwidth}, /flap {upMs, downMs}, /flap/stop.
 */
export async function startProxy(options: {
  port: number;
  targetPort: number;
  controlPort: number;
}): Promise<RunningProxy> {
  const log = createLogger('proxy');
  const proxy = await TcpProxy.start(options.targetPort, Math.random, options.port);
  const router = new Router<RequestState>();
  const answer = (ctx: { body: unknown }): void => {
    ctx.body = proxy.status;
  };
  router.get('/status', answer);
  // A hold or a partition is meant to last: flapping would undo it at its next turn.
  router.post('/partition', (ctx) => {
    proxy.stopFlapping();
    proxy.partition();
    answer(ctx);
  });
  router.post('/hold', (ctx) => {
    proxy.stopFlapping();
    proxy.hold();
    answer(ctx);
  });
  router.post('/restore', (ctx) => {
    proxy.stopFlapping();
    proxy.restore();
    answer(ctx);
  });
  router.post('/degrade', async (ctx) => {
    const faults = await readJson(ctx, DegradeSchema);
    proxy.degrade(Object.fromEntries(Object.entries(faults).filter(([, v]) => v !== undefined)));
    answer(ctx);
  });
  router.post('/flap', async (ctx) => {
    const { upMs, downMs } = await readJson(ctx, FlapSchema);
    proxy.flap(upMs, downMs);
    answer(ctx);
  });
  router.post('/flap/stop', (ctx) => {
    proxy.stopFlapping();
    answer(ctx);
  });
  const server = createHttpServer(router, (error) => log.error({ err: error }, 'control request failed'));
  const controlPort = await listen(server, options.controlPort, '127.0.0.1');
  return {
    proxy,
    controlUrl: `http://127.0.0.1:${controlPort}`,
    async close() {
      await closeServer(server);
      await proxy.close();
    },
  };
}
