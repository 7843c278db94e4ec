export { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from './backoff.js';
export { TokenBucket, type RateBudget } from './budget.js';
export {
  AckSchema,
  ControlMessageSchema,
  ErrorMessageSchema,
  HELLO_DIRTY_BYTES,
  HelloSchema,
  MAX_HELLO_DIRTY,
  MAX_SKU_LIST,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  SCHEMA_2_PROTOCOL,
  SHARE_PROTOCOL,
  STORE_PROTOCOL,
  CursorMessageSchema,
  AvailableSchema,
  FollowSchema,
  MAX_FOLLOWED,
  RefusedSchema,
  forProtocol,
  WelcomeSchema,
  type Ack,
  type TopUpResult,
  type ControlMessage,
  type ErrorMessage,
  type Hello,
  type Refused,
  type Welcome,
} from './control.js';
export { REPORT_MAX_AGE_MS } from './hub-refusal-reports.js';
export { MAX_QUEUED_REPORTS, type RefusalReport } from './store-refusal-reports.js';
export {
  FrameError,
  FrameKind,
  SyncMessageType,
  decodeFrame,
  encodeControlFrame,
  encodeDocFrame,
  type ControlFrame,
  type DocFrame,
  type Frame,
} from './frames.js';
export { HubSession } from './hub-session.js';
export {
  HubEngine,
  type HubEngineOptions,
  type HubWriteLane,
  type HubWriteRecord,
  type HubWriter,
  type Relay,
  type StoreConnection,
  type StoreUpdateListener,
  type StoreUpdateOutcome,
} from './hub-engine.js';
export {
  CommitConflict,
  RecordChanged,
  type CommitListener,
  type HubChange,
  type HubChangeLog,
} from './hub-change-log.js';
export type { HubDocumentStore } from './hub-documents.js';
export {
  HubSync,
  type AllocatorHooks,
  type HubDocuments,
  type TopUpAnswer,
  type HubSyncEvent,
  type HubSyncOptions,
  type StoreLinkStatus,
} from './hub-sync.js';
export {
  StoreSync,
  type HubRefusal,
  type StoreDocuments,
  type StoreSyncEvent,
  type StoreSyncOptions,
  type StoreSyncStatus,
} from './store-sync.js';
export { helloDirty } from './store-hello.js';
export { RESYNC_INTERVAL_MS } from './resync-pacer.js';
export { createTransportPair, type Transport, type TransportPairOptions } from './transport.js';
export { HubStorage } from './hub-storage.js';
export { StoreStorage } from './store-storage.js';
export {
  REMOTE_ORIGIN,
  freshClientId,
  randomClientId,
  type PinnedDoc,
  type ResidencyOptions,
} from './persisted-docs.js';
export { ClientRegistry, type ClientClaim } from './client-registry.js';
export { RegistryWriterClients, type HubWriterClients } from './hub-clients.js';
export { KeyedSerializer } from './keyed-serializer.js';
export { HubAllocator, type AllocatorEvent } from './hub-allocator.js';
export { Reservations, type ReservationEscrow, type ReservationsOptions } from './reservations.js';
export { holding, refusalCause, releaseSurplus, withTopUp, type Attempt, type TopUpOutcome } from './top-up.js';
export type { RefusalCause } from '@shelfsync/protocol';
export { MAX_CLIENTS_PER_WRITER } from './client-registry.js';
export type { ElsewhereFigure } from './store-chain-figures.js';
