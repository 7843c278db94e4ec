export {
  PointOfSale,
  type PerformContext,
  type PointOfSaleObserver,
  type PointOfSaleOptions,
  type PosAnswer,
  type StockFigures,
} from './point-of-sale.js';
export { ReplicaHealth, type FirstSyncRecord, type ReplicaHealthOptions } from './replica-health.js';
export { posRequests, type PosRequest } from './requests.js';
export { saleOutcome, type SaleOutcome } from './sale-outcome.js';
