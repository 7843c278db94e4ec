export {
  AccountIdSchema,
  CENTRAL_ACCOUNT,
  CENTRAL_LOCATION,
  SkuSchema,
  StoreIdSchema,
  onlineAccount,
  parseAccountId,
  storeAccount,
  type AccountId,
  type AccountKind,
  type ParsedAccountId,
  type Sku,
  type StoreId,
} from './ids.js';
export {
  HUB_WRITER,
  accountOwner,
  ownsAccount,
  storeWriter,
  writerKey,
  type Writer,
  type WriterKey,
} from './writer.js';
export {
  ErrorCode,
  ErrorCodeSchema,
  ProblemSchema,
  fail,
  httpStatusByCode,
  ok,
  shelfsyncError,
  toProblem,
  type Problem,
  type Result,
  type ShelfsyncError,
} from './errors.js';
export { CloseCode, closeCodeName, type CloseCodeName } from './close-codes.js';
export {
  AdjustmentRequestSchema,
  IdempotencyKeySchema,
  OperationResponseSchema,
  QuantityInputSchema,
  SYNC_PATH,
  StockMovementRequestSchema,
  TransferInRequestSchema,
  TransferOutRequestSchema,
  type AdjustmentRequest,
  type OperationResponse,
  type StockMovementRequest,
  type TransferInRequest,
  type TransferOutRequest,
} from './api.js';
export { seededRandom } from './random.js';
