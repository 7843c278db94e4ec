export {
  checkHistory,
  type FinalSku,
  type HistoryEvent,
  type OperationKind,
  type Verdict,
  type Violation,
} from './check.js';
