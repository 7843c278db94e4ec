export {
  REFUSAL_CAUSES,
  checkHistory,
  replicaAgrees,
  shareOf,
  type CheckOptions,
  type FinalSku,
  type HistoryEvent,
  type OperationKind,
  type Refusal,
  type RefusalCause,
  type Verdict,
  type Violation,
} from './check.js';
export { finalSkuOf, locationView } from './final-sku.js';
