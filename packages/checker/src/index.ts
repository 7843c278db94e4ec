export {
  checkHistory,
  type CheckOptions,
  type FinalSku,
  type HistoryEvent,
  type OperationKind,
  type Verdict,
  type Violation,
} from './check.js';
