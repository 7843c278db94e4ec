export {
  HttpProblem,
  createHttpServer,
  parseOrThrow,
  problem,
  problems,
  readJson,
  requestId,
  type ReadJsonOptions,
  type RequestState,
  type UnexpectedErrorLogger,
} from './http.js';
export { closeServer, listen } from './listen.js';
export { wsTransport } from './ws-transport.js';
export { createLogger, type Logger } from './log.js';
export { IdempotencyKeys, type StoredAnswer } from './idempotency.js';
export { Counter, Gauge, Histogram, Metrics, Registry } from './metrics.js';
export { cors, rateLimit, type RateLimitOptions } from './guards.js';
export { staticFiles, type StaticFilesOptions } from './static-files.js';
export { AddressSlots, type AddressSlotsOptions, type Slot } from './address-slots.js';
export {
  ConnectionErrorReason,
  ConnectionErrors,
  peerOf,
  refuseUpgrade,
  requestTarget,
  wsErrorReason,
} from './connection-errors.js';
export { PeerLogLimiter, type PeerLogLimiterOptions } from './peer-log-limiter.js';
